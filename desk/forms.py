import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Patient
from hospital.channels import Channel
from payments.models import OfflinePayment

MAX_EXPORT_DAYS = 92


class FindPersonForm(forms.Form):
    q = forms.CharField(
        label=_("证件号码或手机号"),
        max_length=30,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


class RegisterPersonForm(forms.ModelForm):
    """A walk-in 就诊人: real name with a checked document number; a phone is optional."""

    class Meta:
        model = Patient
        fields = ["name", "id_type", "id_number", "gender", "birth_date", "phone"]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_number"].required = True
        self.fields["phone"].required = False
        self.fields["phone"].help_text = _("没有手机的患者可不填，不会收到短信。")


class BookSlotForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput)


class DeskPaymentForm(forms.Form):
    method = forms.ChoiceField(label=_("收费方式"), choices=OfflinePayment.Method.choices)


class AddPlacesForm(forms.Form):
    places = forms.IntegerField(label=_("加号数量"), min_value=1, max_value=50, initial=1)
    channel = forms.ChoiceField(label=_("渠道"), choices=Channel.choices, initial=Channel.WINDOW)
    reason = forms.CharField(label=_("加号原因"), max_length=200)


class FollowUpForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("备注（可选）"), max_length=200, required=False)


class SuspensionRequestForm(forms.Form):
    reason = forms.CharField(label=_("停诊原因"), max_length=200)


class ExportForm(forms.Form):
    start = forms.DateField(label=_("开始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("结束日期不能早于开始日期。"))
            if end - start > datetime.timedelta(days=MAX_EXPORT_DAYS):
                raise forms.ValidationError(_("一次最多导出%(days)d天。") % {"days": MAX_EXPORT_DAYS})
        return data
