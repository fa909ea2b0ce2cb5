import datetime
import zoneinfo

import pytest

from notifications.errors import SmsTemplateError
from notifications.templates_sms import (
    MOMENTS,
    SMS_TEMPLATES,
    SmsTemplate,
    format_date,
    format_datetime,
    get_template,
)

VISIT = {"patient", "hospital", "department", "doctor", "time"}
CONTRACT = {
    "verification_code": {"code"},
    "account_unknown": set(),
    "account_exists": set(),
    "booking_confirmed": VISIT | {"queue_number", "order_no", "location"},
    "booking_pending_payment": VISIT | {"deadline", "location", "order_no"},
    "booking_cancelled": VISIT | {"order_no"},
    "schedule_suspended": VISIT | {"order_no", "alternatives"},
    "waitlist_promoted": VISIT | {"deadline", "location", "order_no"},
    "lottery_won": VISIT | {"deadline", "location", "order_no"},
    "lottery_lost": {"patient", "hospital", "department", "doctor", "session"},
    "lottery_lost_waitlist_open": {"patient", "hospital", "department", "doctor", "session"},
    "visit_reminder": VISIT | {"queue_number", "location"},
    "visit_reminder_link": VISIT | {"queue_number", "location", "link"},
    "waitlist_closed": {"patient", "hospital", "department", "doctor", "session"},
    "refund_completed": {"patient", "order_no", "amount"},
    "payment_expired": VISIT | {"order_no"},
    "booking_rescheduled": VISIT | {"old_time", "queue_number", "order_no", "location"},
    "booking_rescheduled_pending_payment": VISIT | {"old_time", "deadline", "amount", "location", "order_no"},
    "alert_slot_freed": {"name", "hospital", "department", "doctor", "session"},
    "alert_day_released": {"name", "hospital", "department", "doctor", "day"},
}
MOMENT = datetime.datetime(2025, 3, 4, 0, 30, tzinfo=datetime.UTC)


def sample(name: str):
    return MOMENT if name in MOMENTS else f"<{name}>"


def test_registry_holds_exactly_the_agreed_templates_and_parameters():
    assert {code: set(t.params) for code, t in SMS_TEMPLATES.items()} == CONTRACT


@pytest.mark.parametrize("code", sorted(CONTRACT))
def test_every_template_renders_chinese_text_with_every_value(code):
    template = get_template(code)
    params = template.clean_params({name: sample(name) for name in template.params})
    text = template.render(params)
    assert all(f"<{name}>" in text for name in template.params if name not in MOMENTS)
    assert all("3月4日 08:30" in text for name in template.params if name in MOMENTS)
    assert "{" not in text and "}" not in text
    assert "，" in text or "。" in text


def test_unknown_template_code_is_refused():
    with pytest.raises(SmsTemplateError, match="Unknown SMS template 'booking_confirmd'"):
        get_template("booking_confirmd")


def test_missing_parameter_is_refused():
    with pytest.raises(SmsTemplateError, match="needs a value for 'order_no'"):
        get_template("refund_completed").clean_params({"patient": "张三", "amount": 100})


def test_unknown_parameter_is_refused():
    with pytest.raises(SmsTemplateError, match="no parameter"):
        get_template("refund_completed").clean_params({"patient": "张三", "order_no": "R1", "amount": 1, "queue_no": 3})


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
        {"patient": "张三", "hospital": "协和医院", "department": "心内科", "doctor": "李四", "time": utc,
         "deadline": utc + datetime.timedelta(days=1), "location": "", "order_no": "R1"}
    )  # fmt: skip
    assert params["time"] == "3月4日 08:30"
    assert params["deadline"] == "3月5日 08:30"
    local = datetime.datetime(2025, 3, 4, 15, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert format_date(local.date()) == "3月4日"
    assert format_datetime(local) == "3月4日 15:00"


@pytest.mark.parametrize(
    ("code", "moment"),
    sorted((code, name) for code, t in SMS_TEMPLATES.items() for name in t.params if name in MOMENTS),
)
def test_a_moment_given_as_bare_text_or_time_is_refused(code, moment):
    """A deadline of "08:30" would lose its date: moments must be datetimes, formatted here."""
    template = get_template(code)
    params = {name: sample(name) for name in template.params}
    for bare in ["08:30", datetime.time(8, 30), MOMENT.date()]:
        with pytest.raises(SmsTemplateError, match="must be a datetime"):
            template.clean_params({**params, moment: bare})


def test_every_message_about_a_visit_names_the_hospital_and_the_department():
    about_visits = [t for t in SMS_TEMPLATES.values() if {*MOMENTS, "session"} & set(t.params)]
    assert len(about_visits) == 15
    for template in about_visits:
        assert {"hospital", "department"} <= set(template.params), template.code


def test_every_message_that_asks_the_patient_to_come_says_where_to_go():
    for template in SMS_TEMPLATES.values():
        if "deadline" in template.params or "queue_number" in template.params:
            assert "location" in template.params, template.code
            assert "就诊地点：{location}" in template.text, template.code


def test_a_template_about_a_visit_without_hospital_or_department_is_refused():
    with pytest.raises(SmsTemplateError, match="about a visit"):
        SmsTemplate(code="x", text="{patient}，{doctor}医生{time}", params=("patient", "doctor", "time"))


def test_blank_location_points_to_the_guide_desk():
    template = get_template("booking_confirmed")
    params = template.clean_params({**{name: sample(name) for name in template.params}, "location": ""})
    assert "就诊地点：到院后请咨询导诊台。" in template.render(params)


def test_suspension_without_alternatives_points_to_the_platform():
    params = get_template("schedule_suspended").clean_params(
        {"patient": "张三", "hospital": "协和医院", "department": "心内科", "doctor": "李四", "time": MOMENT,
         "order_no": "R1", "alternatives": ""}
    )  # fmt: skip
    assert params["alternatives"] == "可改约其他号源，详情请登录挂号平台查看"
