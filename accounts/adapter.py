from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.phones import normalize_mobile, to_e164


class AccountAdapter(DefaultAccountAdapter):
    """Phone-number accounts: allauth speaks E.164, we store the 11-digit number encrypted."""

    def phone_form_field(self, **kwargs):
        """Users type 13800138000 as they always do; clean_phone turns it into E.164.

        allauth's own field insists on a "+<country code>" form before clean_phone runs.
        """
        kwargs["validators"] = []
        kwargs["label"] = _("手机号")
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"placeholder": _("11位手机号"), "autocomplete": "tel", "type": "tel", "inputmode": "numeric"}
            ),
        )
        return super().phone_form_field(**kwargs)

    def clean_phone(self, phone):
        try:
            return to_e164(phone)
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from exc

    def save_user(self, request, user, form, commit=True):
        """The phone is the login field and its hash is unique: it must be on the row's first save.

        allauth saves the new user first and calls set_phone afterwards.
        """
        phone = form.cleaned_data.get("phone")
        if phone:
            user.phone = normalize_mobile(phone)
        return super().save_user(request, user, form, commit)

    def set_phone(self, user, phone, verified):
        user.phone = normalize_mobile(phone)
        user.phone_verified = verified
        user.save()

    def get_phone(self, user):
        if not user.phone:
            return None
        return to_e164(user.phone), user.phone_verified

    def set_phone_verified(self, user, phone):
        user.phone_verified = True
        user.save(update_fields=["phone_verified"])

    def get_user_by_phone(self, phone):
        try:
            return User.objects.get_by_phone(phone)
        except User.DoesNotExist:
            return None

    def send_verification_code_sms(self, user, phone, code, **kwargs):
        from notifications.services import send_sms

        transaction.on_commit(
            lambda: send_sms(phone=normalize_mobile(phone), template="verification_code", params={"code": code})
        )
