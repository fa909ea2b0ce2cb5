import datetime
import zoneinfo

import pytest

from notifications.errors import SmsTemplateError
from notifications.templates_sms import SMS_TEMPLATES, SmsTemplate, get_template

CONTRACT = {
    "verification_code": {"code"},
    "booking_confirmed": {"patient", "hospital", "doctor", "time", "queue_number", "order_no"},
    "booking_pending_payment": {"patient", "doctor", "time", "deadline", "order_no"},
    "booking_cancelled": {"patient", "doctor", "time", "order_no"},
    "schedule_suspended": {"patient", "hospital", "doctor", "time", "order_no", "alternatives"},
    "waitlist_promoted": {"patient", "doctor", "time", "deadline", "order_no"},
    "lottery_won": {"patient", "doctor", "time", "deadline", "order_no"},
    "lottery_lost": {"patient", "doctor", "date"},
    "visit_reminder": {"patient", "hospital", "doctor", "time", "queue_number"},
    "refund_completed": {"patient", "order_no", "amount"},
    "payment_expired": {"patient", "order_no"},
}


def test_registry_holds_exactly_the_agreed_templates_and_parameters():
    assert {code: set(t.params) for code, t in SMS_TEMPLATES.items()} == CONTRACT


@pytest.mark.parametrize("code", sorted(CONTRACT))
def test_every_template_renders_chinese_text_with_every_value(code):
    template = get_template(code)
    params = template.clean_params({name: f"<{name}>" for name in template.params})
    text = template.render(params)
    assert all(f"<{name}>" in text for name in template.params)
    assert "{" not in text and "}" not in text
    assert "，" in text or "。" in text


def test_unknown_template_code_is_refused():
    with pytest.raises(SmsTemplateError, match="Unknown SMS template 'booking_confirmd'"):
        get_template("booking_confirmd")


def test_missing_parameter_is_refused():
    with pytest.raises(SmsTemplateError, match="needs a value for 'order_no'"):
        get_template("payment_expired").clean_params({"patient": "张三"})


def test_unknown_parameter_is_refused():
    with pytest.raises(SmsTemplateError, match="no parameter"):
        get_template("payment_expired").clean_params({"patient": "张三", "order_no": "R1", "queue_no": 3})


def test_template_text_must_use_exactly_its_parameters():
    with pytest.raises(SmsTemplateError):
        SmsTemplate(code="x", text="{patient}你好{extra}", params=("patient",))


def test_refund_amount_in_fen_is_shown_in_yuan():
    params = get_template("refund_completed").clean_params({"patient": "张三", "order_no": "R1", "amount": 1205})
    assert params["amount"] == "12.05"
    assert "已退款12.05元" in get_template("refund_completed").render(params)


def test_times_are_shown_in_hospital_local_time():
    utc = datetime.datetime(2025, 3, 4, 0, 30, tzinfo=datetime.UTC)
    params = get_template("lottery_won").clean_params(
        {"patient": "张三", "doctor": "李四", "time": utc, "deadline": utc, "order_no": "R1"}
    )
    assert params["time"] == "3月4日 08:30"
    local = datetime.datetime(2025, 3, 4, 15, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert get_template("lottery_lost").clean_params({"patient": "张三", "doctor": "李四", "date": local.date()}) == {
        "patient": "张三",
        "doctor": "李四",
        "date": "3月4日",
    }


def test_suspension_without_alternatives_points_to_the_platform():
    params = get_template("schedule_suspended").clean_params(
        {"patient": "张三", "hospital": "协和医院", "doctor": "李四", "time": "3月4日上午", "order_no": "R1",
         "alternatives": ""}
    )  # fmt: skip
    assert params["alternatives"] == "可改约其他号源，详情请登录挂号平台查看"
