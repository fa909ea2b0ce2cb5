"""Identity document numbers: GB 11643-1999 resident ID numbers and the other accepted types."""

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 (the first two digits of the address code).
_PROVINCE_CODES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
}  # fmt: skip


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: datetime.date
    gender: str  # "M" or "F", from the parity of the sequence code


def check_digit(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_resident_id(raw: str, *, today: datetime.date | None = None) -> ResidentId:
    """Validate a 居民身份证 number and say which part is wrong when it is not valid."""
    number = (raw or "").strip().upper()
    if len(number) != 18:
        raise ValidationError(
            _("身份证号码应为18位，当前为%(length)d位。"), code="id_length", params={"length": len(number)}
        )
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise ValidationError(_("身份证号码前17位须为数字，最后一位为数字或X。"), code="id_format")
    if number[:2] not in _PROVINCE_CODES:
        raise ValidationError(_("身份证号码的地址码（前6位）无效。"), code="id_region")
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号码中的出生日期（第7至14位）不是有效日期。"), code="id_birth_date") from None
    today = today or datetime.date.today()
    if birth > today or birth.year < 1900:
        raise ValidationError(_("身份证号码中的出生日期（第7至14位）不在合理范围内。"), code="id_birth_date")
    if number[17] != check_digit(number[:17]):
        raise ValidationError(_("身份证号码校验位（第18位）错误，请核对后重新输入。"), code="id_check_digit")
    gender = "M" if int(number[16]) % 2 else "F"
    return ResidentId(number=number, birth_date=birth, gender=gender)


def validate_other_document(raw: str) -> str:
    """Passports and 港澳台通行证: letters and digits, 5 to 20 characters."""
    number = (raw or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
        raise ValidationError(_("证件号码应为5至20位字母或数字。"), code="document_format")
    return number
