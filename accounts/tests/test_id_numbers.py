import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from accounts.id_numbers import check_digit, parse_resident_id, validate_other_document
from accounts.tests.factories import resident_id_number


def error_of(number: str) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        parse_resident_id(number)
    return excinfo.value


@pytest.mark.parametrize(
    ("number", "birth_date", "gender"),
    [
        ("110101199003071233", datetime.date(1990, 3, 7), "M"),
        ("11010519491231002X", datetime.date(1949, 12, 31), "F"),
        ("11010119850103123X", datetime.date(1985, 1, 3), "M"),
        ("110101201605200039", datetime.date(2016, 5, 20), "M"),
    ],
)
def test_valid_number_gives_birth_date_and_gender(number, birth_date, gender):
    parsed = parse_resident_id(number)
    assert (parsed.number, parsed.birth_date, parsed.gender) == (number, birth_date, gender)


def test_lower_case_x_and_spaces_are_accepted():
    assert parse_resident_id(" 11010519491231002x ").number == "11010519491231002X"


def test_wrong_check_digit_names_the_18th_digit():
    error = error_of("110101199003071234")
    assert error.code == "id_check_digit"
    assert "校验位（第18位）" in error.messages[0]


def test_impossible_birth_date_names_the_birth_date_digits():
    first17 = "11010119900230123"  # 30 February
    error = error_of(first17 + check_digit(first17))
    assert error.code == "id_birth_date"
    assert "出生日期（第7至14位）" in error.messages[0]


def test_future_birth_date_is_refused():
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    error = error_of(resident_id_number(birth_date=tomorrow, gender="M"))
    assert error.code == "id_birth_date"


@pytest.mark.parametrize("number", ["11010119900307123", "1101011990030712333", ""])
def test_wrong_length_says_how_long_it_is(number):
    error = error_of(number)
    assert error.code == "id_length"
    assert f"当前为{len(number)}位" in error.messages[0]


def test_letter_inside_the_number_is_a_format_error():
    error = error_of("1101011990A3071233")
    assert error.code == "id_format"
    assert "前17位须为数字" in error.messages[0]


def test_unknown_region_names_the_address_code():
    first17 = "99010119900307123"
    error = error_of(first17 + check_digit(first17))
    assert error.code == "id_region"
    assert "地址码（前6位）" in error.messages[0]


@given(
    birth_date=st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2020, 12, 31)),
    gender=st.sampled_from(["M", "F"]),
    order=st.integers(min_value=0, max_value=499),
)
def test_every_generated_number_parses_back(birth_date, gender, order):
    parsed = parse_resident_id(resident_id_number(birth_date=birth_date, gender=gender, order=order))
    assert (parsed.birth_date, parsed.gender) == (birth_date, gender)


@given(position=st.integers(min_value=0, max_value=16), digit=st.sampled_from("0123456789"))
def test_changing_one_digit_is_caught(position, digit):
    number = "110101199003071233"
    changed = number[:position] + digit + number[position + 1 :]
    if changed != number:
        with pytest.raises(ValidationError):
            parse_resident_id(changed)


def test_passport_numbers_are_letters_and_digits():
    assert validate_other_document(" e1234567 ") == "E1234567"
    with pytest.raises(ValidationError) as excinfo:
        validate_other_document("E12-34")
    assert "5至20位字母或数字" in excinfo.value.messages[0]
