"""Shapes of the patient pages' forms; every rule is checked by the booking services."""

import re
import secrets

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.selectors import patients_of
from booking.models import BookingRequest

KEY = re.compile(r"[A-Za-z0-9]{1,64}")


class BookForm(forms.Form):
    """Book a place, enter the draw or join the waitlist, for one of the account's 就诊人."""

    BOOK, REQUEST, WAITLIST = "book", "request", "waitlist"

    patient = forms.ModelChoiceField(
        label=_("就诊人"),
        queryset=None,
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": _("请选择就诊人。"),
            "invalid_choice": _("请选择本账户的就诊人。"),
        },
    )
    # Which button was pressed; a form sent without one (Enter in a field) books.
    action = forms.ChoiceField(
        choices=[(BOOK, BOOK), (REQUEST, REQUEST), (WAITLIST, WAITLIST)], widget=forms.HiddenInput, required=False
    )
    urgency = forms.TypedChoiceField(
        label=_("病情紧急程度"), choices=BookingRequest.Urgency.choices, coerce=int, required=False, initial=0
    )
    # One key per form shown: a double click or a resent form returns the first order.
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("key", secrets.token_hex(16))
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients_of(user=user)
        self.fields["patient"].label_from_instance = lambda p: f"{p.name}（{p.get_relation_display()}）"

    def clean_key(self):
        key = self.cleaned_data["key"]
        if not KEY.fullmatch(key):
            raise forms.ValidationError(_("页面已过期，请重新提交。"))
        return key

    def clean_urgency(self):
        return self.cleaned_data.get("urgency") or 0


class PayForm(forms.Form):
    provider = forms.ChoiceField(
        label=_("支付方式"), choices=(), widget=forms.RadioSelect, error_messages={"required": _("请选择支付方式。")}
    )

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = providers


class RescheduleForm(forms.Form):
    slot = forms.IntegerField(
        label=_("新时段"), min_value=1, max_value=2**31 - 1, error_messages={"required": _("请选择新的就诊时段。")}
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("取消原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写取消原因。")},
    )
