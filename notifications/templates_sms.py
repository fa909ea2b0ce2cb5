"""The SMS templates every module sends, in one registry.

Each template has Chinese text with named parameters and a fixed parameter order: Aliyun
templates name their variables (${patient}), Tencent templates number them ({1}, {2}, …) in
the order given here. The provider's template id for a code is configured per backend
(ALIYUN_SMS_TEMPLATE_<CODE>, TENCENT_SMS_TEMPLATE_<CODE>); the text registered with the
provider must match `text` below, which is also what the console backend prints.

Values are given as text, except: datetimes and dates, which every template shows in one
format (`format_datetime`: 3月4日 08:30, `format_date`: 3月4日), and the refund `amount` as
integer fen (shown as 12.50). Every parameter is required; `alternatives` is a whole phrase
(可改约：…), and a blank one reads as a pointer to the platform; a blank `location` reads as
"ask at the hospital's guide desk". Keep values short: providers cap each variable (Aliyun 35
characters).

Every message about a visit names the hospital and the department; one that asks the patient
to come (or to pay for a place they will come to) also says where to go (`location`), and a
payment deadline is a datetime, so it carries its date.
"""

import datetime
import string
from dataclasses import dataclass, field

from django.utils import timezone

from config.money import fen_to_yuan
from notifications.errors import SmsTemplateError

REDACTED = "******"

# Parameters that name a moment of a visit: given as datetimes, so they always carry their date.
MOMENTS = ("time", "deadline")
# A message about a visit (it has a moment or a `session`) names these.
VISIT_NAMES = ("hospital", "department")


def format_date(day: datetime.date) -> str:
    """The one date format of every SMS: 3月4日."""
    return f"{day.month}月{day.day}日"


def format_datetime(moment: datetime.datetime) -> str:
    """The one date-and-time format of every SMS, in local time: 3月4日 08:30."""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{format_date(local)} {local:%H:%M}"


@dataclass(frozen=True)
class SmsTemplate:
    code: str
    text: str
    params: tuple[str, ...]
    # Values wiped from the stored log once delivery has finished (sent or failed).
    sensitive: tuple[str, ...] = ()
    # Integer amounts in fen (分) shown as yuan with two decimals.
    money: tuple[str, ...] = ()
    # What a blank value reads as, for parameters that may legitimately be empty.
    blank_defaults: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        fields = {name for _, name, _, _ in string.Formatter().parse(self.text) if name}
        if fields != set(self.params) or len(self.params) != len(set(self.params)):
            raise SmsTemplateError(f"SMS template {self.code!r}: text fields {sorted(fields)} != params {self.params}")
        about_a_visit = {*MOMENTS, "session"} & set(self.params)
        if about_a_visit and not set(VISIT_NAMES) <= set(self.params):
            raise SmsTemplateError(f"SMS template {self.code!r} is about a visit and must name {VISIT_NAMES}")

    def clean_params(self, params: dict) -> dict[str, str]:
        """Every parameter as provider-ready text; refuses missing and unknown names."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise SmsTemplateError(f"SMS template {self.code!r} has no parameter(s) {sorted(unknown)}")
        cleaned = {}
        for name in self.params:
            value = params.get(name)
            if name in MOMENTS and value is not None and not isinstance(value, datetime.datetime):
                raise SmsTemplateError(f"SMS template {self.code!r}: {name!r} must be a datetime, with its date")
            text = "" if value is None else self._format(name, value)
            if not text:
                text = self.blank_defaults.get(name, "")
            if not text:
                raise SmsTemplateError(f"SMS template {self.code!r} needs a value for {name!r}")
            cleaned[name] = text
        return cleaned

    def render(self, params: dict[str, str]) -> str:
        return self.text.format_map(params)

    def ordered_values(self, params: dict[str, str]) -> list[str]:
        return [params[name] for name in self.params]

    def redact(self, params: dict[str, str]) -> dict[str, str]:
        return {name: REDACTED if name in self.sensitive else value for name, value in params.items()}

    def _format(self, name: str, value) -> str:
        if isinstance(value, bool):
            raise SmsTemplateError(f"SMS template {self.code!r}: {name!r} must be text, not a boolean")
        if name in self.money and isinstance(value, int):
            return fen_to_yuan(value)
        if isinstance(value, datetime.datetime):
            return format_datetime(value)
        if isinstance(value, datetime.date):
            return format_date(value)
        if isinstance(value, datetime.time):
            return f"{value:%H:%M}"
        return str(value).strip()


# Where to go, when neither the department nor the hospital has a place on file.
WHERE_DEFAULT = {"location": "到院后请咨询导诊台"}


def _template(code, text, params, **options) -> tuple[str, SmsTemplate]:
    return code, SmsTemplate(code=code, text=text, params=tuple(params), **options)


SMS_TEMPLATES: dict[str, SmsTemplate] = dict(
    [
        _template(
            "verification_code",
            "您的验证码为{code}，请勿泄露给他人。如非本人操作，请忽略本短信。",
            ["code"],
            sensitive=("code",),
        ),
        _template(
            "account_unknown",
            "有人用本手机号申请短信验证码，但该号码尚未注册挂号平台账号，如需使用请先注册。如非本人操作，请忽略本短信。",
            [],
        ),
        _template(
            "account_exists",
            "有人用本手机号申请注册，但该号码已注册挂号平台账号，请直接用短信验证码登录。如非本人操作，请忽略本短信。",
            [],
        ),
        _template(
            "booking_confirmed",
            "{patient}，您已成功预约{hospital}{department}{doctor}医生{time}的号源，就诊序号{queue_number}，"
            "订单号{order_no}。就诊地点：{location}。请按时到院签到就诊。",
            ["patient", "hospital", "department", "doctor", "time", "queue_number", "order_no", "location"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "booking_pending_payment",
            "{patient}，您预约的{hospital}{department}{doctor}医生{time}的号源已为您保留，请在{deadline}前完成支付，"
            "逾期将自动取消。就诊地点：{location}。订单号{order_no}。",
            ["patient", "hospital", "department", "doctor", "time", "deadline", "location", "order_no"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "booking_cancelled",
            "{patient}，您预约的{hospital}{department}{doctor}医生{time}的号源已取消，订单号{order_no}。"
            "如已支付，费用将原路退回。",
            ["patient", "hospital", "department", "doctor", "time", "order_no"],
        ),
        _template(
            "schedule_suspended",
            "{patient}，很抱歉，{hospital}{department}{doctor}医生{time}停诊，您的预约（订单号{order_no}）已取消，"
            "已付费用将原路退回，不计为您的取消或爽约。{alternatives}。",
            ["patient", "hospital", "department", "doctor", "time", "order_no", "alternatives"],
            blank_defaults={"alternatives": "可改约其他号源，详情请登录挂号平台查看"},
        ),
        _template(
            "waitlist_promoted",
            "{patient}，您候补的{hospital}{department}{doctor}医生{time}的号源已为您保留，请在{deadline}前完成支付，"
            "逾期将自动释放。就诊地点：{location}。订单号{order_no}。",
            ["patient", "hospital", "department", "doctor", "time", "deadline", "location", "order_no"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "lottery_won",
            "{patient}，恭喜您在{hospital}{department}{doctor}医生{time}号源的抽签中中签，请在{deadline}前完成支付，"
            "逾期视为放弃。就诊地点：{location}。订单号{order_no}。",
            ["patient", "hospital", "department", "doctor", "time", "deadline", "location", "order_no"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "lottery_lost",
            "{patient}，很遗憾，您参与的{hospital}{department}{doctor}医生{session}号源抽签未中签，欢迎预约其他号源。",
            ["patient", "hospital", "department", "doctor", "session"],
        ),
        _template(
            "lottery_lost_waitlist_open",
            "{patient}，很遗憾，您参与的{hospital}{department}{doctor}医生{session}号源抽签未中签。"
            "该号源已开放候补，可登录挂号平台加入候补，有人退号时按顺序为您保留。",
            ["patient", "hospital", "department", "doctor", "session"],
        ),
        _template(
            "visit_reminder",
            "{patient}，温馨提醒：您预约了{time}在{hospital}{department}就诊（{doctor}医生，就诊序号{queue_number}），"
            "就诊地点：{location}，请提前到院签到。",
            ["patient", "hospital", "department", "doctor", "time", "queue_number", "location"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "visit_reminder_link",
            "{patient}，温馨提醒：您预约了{time}在{hospital}{department}就诊（{doctor}医生，就诊序号{queue_number}），"
            "就诊地点：{location}。确认按时就诊或退号请点击{link}",
            ["patient", "hospital", "department", "doctor", "time", "queue_number", "location", "link"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "waitlist_closed",
            "{patient}，很遗憾，您候补的{hospital}{department}{doctor}医生{session}号源到候补截止时仍无空出的号源，"
            "候补已结束，欢迎预约其他号源。",
            ["patient", "hospital", "department", "doctor", "session"],
        ),
        _template(
            "refund_completed",
            "{patient}，您的订单{order_no}已退款{amount}元，将原路退回，请注意查收。",
            ["patient", "order_no", "amount"],
            money=("amount",),
        ),
        _template(
            "payment_expired",
            "{patient}，您预约的{hospital}{department}{doctor}医生{time}的号源因超时未支付已自动取消，"
            "订单号{order_no}，号源已释放。",
            ["patient", "hospital", "department", "doctor", "time", "order_no"],
        ),
        _template(
            "booking_rescheduled",
            "{patient}，您在{hospital}{department}{doctor}医生{old_time}的预约已改约至{time}，就诊序号{queue_number}，"
            "订单号{order_no}。就诊地点：{location}。请按时到院签到就诊。",
            ["patient", "hospital", "department", "doctor", "old_time", "time", "queue_number", "order_no", "location"],
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "booking_rescheduled_pending_payment",
            "{patient}，您在{hospital}{department}{doctor}医生{old_time}的预约已改约至{time}，新号源已为您保留，"
            "请在{deadline}前支付挂号费{amount}元，逾期将自动取消；原订单如已支付，费用将原路退回。就诊地点：{location}。"
            "订单号{order_no}。",
            [
                *("patient", "hospital", "department", "doctor", "old_time", "time"),
                *("deadline", "amount", "location", "order_no"),
            ],
            money=("amount",),
            blank_defaults=WHERE_DEFAULT,
        ),
        _template(
            "alert_slot_freed",
            "{name}，您订阅的到号提醒：{hospital}{department}{doctor}医生{session}有号源空出，先到先得，"
            "请尽快登录挂号平台预约。本场次只提醒这一次。",
            ["name", "hospital", "department", "doctor", "session"],
            blank_defaults={"name": "您好"},
        ),
        _template(
            "alert_day_released",
            "{name}，您订阅的到号提醒：{hospital}{department}{doctor}医生{day}的号源已开放预约，请登录挂号平台预约。",
            ["name", "hospital", "department", "doctor", "day"],
            blank_defaults={"name": "您好"},
        ),
    ]
)


def get_template(code: str) -> SmsTemplate:
    try:
        return SMS_TEMPLATES[code]
    except KeyError:
        raise SmsTemplateError(f"Unknown SMS template {code!r}; known: {', '.join(sorted(SMS_TEMPLATES))}") from None
