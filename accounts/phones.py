"""Mainland China mobile numbers: one canonical 11-digit form for storage and hashing."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalize_mobile(raw: str) -> str:
    """Accepts 13800138000, +86 138-0013-8000 or 008613800138000; returns 13800138000."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not _MOBILE.fullmatch(digits):
        raise ValidationError(_("请输入有效的中国大陆手机号码（11位，以1开头）。"), code="invalid_phone")
    return digits


def to_e164(mobile: str) -> str:
    return "+86" + normalize_mobile(mobile)
