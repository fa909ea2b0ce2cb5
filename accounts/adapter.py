from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from accounts.phones import normalize_mobile, to_e164


class AccountAdapter(DefaultAccountAdapter):
    """Phone-number accounts: allauth speaks E.164, we store the 11-digit number encrypted."""

    def clean_phone(self, phone):
        try:
            return to_e164(phone)
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from exc

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
