"""Personal data at rest: Fernet encryption, keyed-hash lookups and masked display.

The ciphertext is random per write, so an encrypted column can never be filtered on;
every exact lookup goes through the HMAC column that sits beside it.
"""

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from accounts.phones import normalize_mobile


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PII_ENCRYPTION_KEYS must hold url-safe base64 Fernet keys (32 bytes each)."
        ) from exc


def encrypt(plaintext: str) -> str:
    return _cipher(tuple(settings.PII_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher(tuple(settings.PII_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("A stored value cannot be decrypted with PII_ENCRYPTION_KEYS.") from exc


def lookup_hash(kind: str, value: str) -> str:
    """Keyed SHA-256 of a normalised value; `kind` keeps phones and ID numbers apart."""
    message = f"{kind}:{value}".encode()
    return hmac.new(settings.PII_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def phone_hash(phone: str) -> str:
    """The one lookup key of a mobile number, whatever form it was typed in (users, 就诊人, SMS log)."""
    return lookup_hash("phone", normalize_mobile(phone))


def mask_id_number(number: str) -> str:
    """110101199003071234 → 110***********1234 (first 3 and last 4 stay)."""
    if not number:
        return ""
    if len(number) <= 7:
        return number[:1] + "*" * (len(number) - 1)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


class EncryptedCharField(models.TextField):
    """Holds plaintext in Python and Fernet ciphertext in the database."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))
