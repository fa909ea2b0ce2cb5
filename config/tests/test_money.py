"""fen ↔ yuan: one exact home (config/money.py) that pages, SMS and providers all use."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.money import fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(
    "fen, yuan",
    [(0, "0.00"), (1, "0.01"), (5, "0.05"), (100, "1.00"), (1250, "12.50"), (-5, "-0.05"), (-1250, "-12.50")],
)
def test_fen_to_yuan(fen, yuan):
    assert fen_to_yuan(fen) == yuan


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_fen_to_yuan_is_exact_for_any_amount(fen):
    assert Decimal(fen_to_yuan(fen)) * 100 == fen


@given(st.integers(min_value=0, max_value=10**17 - 1))
def test_yuan_text_reads_back_to_the_same_fen(fen):
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize("text, fen", [("12.50", 1250), ("12.5", 1250), ("12", 1200), ("0.01", 1), ("007.00", 700)])
def test_yuan_to_fen(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "12.345",
        "-12.50",
        "+1",
        "1e3",
        "1e999999999",
        "1e-999999999",
        "NaN",
        "sNaN",
        "Infinity",
        " 12.50",
        "12.",
        ".5",
        "1_000",
        "１２",
        "1" * 16,
        12.5,
        1250,
        None,
    ],
)
def test_anything_but_plain_yuan_text_is_refused(text):
    with pytest.raises(ValueError):
        yuan_to_fen(text)


def test_an_amount_that_a_float_would_round_wrongly_stays_exact():
    # 2**53 + 1 fen: f"{n / 100:.2f}" prints 90071992547409.94, one fen off.
    assert fen_to_yuan(2**53 + 1) == "90071992547409.93"


@pytest.mark.parametrize("value", [12.5, "1250", True, None])
def test_only_whole_fen_are_formatted(value):
    with pytest.raises(TypeError):
        fen_to_yuan(value)


@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_pages_and_sms_show_fees_through_the_one_formatter(fen):
    from booking.models import Appointment
    from hospital.models import Doctor
    from notifications.templates_sms import SMS_TEMPLATES

    template = next(template for template in SMS_TEMPLATES.values() if template.money)
    money = template.money[0]
    sms = template.clean_params({name: fen if name == money else "x" for name in template.params})

    assert Doctor(registration_fee_fen=fen).registration_fee_yuan == fen_to_yuan(fen)
    assert Appointment(fee_fen=fen).fee_yuan == fen_to_yuan(fen)
    assert sms[money] == fen_to_yuan(fen)
