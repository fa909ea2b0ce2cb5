from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.phones import normalize_mobile, to_e164


def send_account_sms(*, phone: str, template: str, params: dict) -> None:
    """Hand an account text to the project's SMS sender once the current transaction commits.

    accounts sits at the bottom of the dependency order and must not import notifications, which
    stands on it; the sender is named in settings (ACCOUNTS_SMS_SENDER, a callable taking
    phone, template and params), the way Django names its EMAIL_BACKEND.
    """
    sender = import_string(settings.ACCOUNTS_SMS_SENDER)
    phone = normalize_mobile(phone)
    transaction.on_commit(lambda: sender(phone=phone, template=template, params=params))


class AccountAdapter(DefaultAccountAdapter):
    """Phone-number accounts: allauth speaks E.164, we store the 11-digit number encrypted.

    Asking for a code does the same work for a known and an unknown number: both store and
    queue one SMS (the code, or a note that no account uses the number), so neither the answer
    nor its timing tells whether the number has an account.
    """

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
        send_account_sms(phone=phone, template="verification_code", params={"code": code})

    def send_unknown_account_sms(self, phone, **kwargs):
        send_account_sms(phone=phone, template="account_unknown", params={})
        if getattr(getattr(self.request, "allauth", None), "headless", None) is not None:
            # The app API's answer for a known number reloads the pending login's user by primary
            # key; read once the same way here so both answers cost the same (as Django's
            # ModelBackend runs the hasher for an unknown username).
            User.objects.filter(pk=0).order_by("pk").first()

    def send_account_already_exists_sms(self, phone, **kwargs):
        send_account_sms(phone=phone, template="account_exists", params={})
