"""The SMS templates every module sends, in one registry.

Each template has Chinese text with named parameters and a fixed parameter order: Aliyun
templates name their variables (${patient}), Tencent templates number them ({1}, {2}, …) in
the order given here. The provider's template id for a code is configured per backend
(ALIYUN_SMS_TEMPLATE_<CODE>, TENCENT_SMS_TEMPLATE_<CODE>); the text registered with the
provider must match `text` below, which is also what the console backend prints.

Values are given as text, except: datetimes (shown in local time as 3月4日 08:30), dates
(3月4日), and the refund `amount` as integer fen (shown as 12.50). Every parameter is
required; `alternatives` is a whole phrase (可改约：…), and a blank one reads as a pointer to
the platform. Keep values short: providers cap each variable (Aliyun 35 characters).
"""

import datetime
import string
from dataclasses import dataclass, field

from django.utils import timezone

from notifications.errors import SmsTemplateError
from payments.money import fen_to_yuan

REDACTED = "******"


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

    def clean_params(self, params: dict) -> dict[str, str]:
        """Every parameter as provider-ready text; refuses missing and unknown names."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise SmsTemplateError(f"SMS template {self.code!r} has no parameter(s) {sorted(unknown)}")
        cleaned = {}
        for name in self.params:
            value = params.get(name)
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
            local = timezone.localtime(value) if timezone.is_aware(value) else value
            return f"{local.month}月{local.day}日 {local:%H:%M}"
        if isinstance(value, datetime.date):
            return f"{value.month}月{value.day}日"
        if isinstance(value, datetime.time):
            return f"{value:%H:%M}"
        return str(value).strip()


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
            "booking_confirmed",
            "{patient}，您已成功预约{hospital}{doctor}医生{time}的号源，就诊序号{queue_number}，"
            "订单号{order_no}。请按时到院签到就诊。",
            ["patient", "hospital", "doctor", "time", "queue_number", "order_no"],
        ),
        _template(
            "booking_pending_payment",
            "{patient}，您预约的{doctor}医生{time}的号源已为您保留，请在{deadline}前完成支付，"
            "逾期将自动取消。订单号{order_no}。",
            ["patient", "doctor", "time", "deadline", "order_no"],
        ),
        _template(
            "booking_cancelled",
            "{patient}，您预约的{doctor}医生{time}的号源已取消，订单号{order_no}。如已支付，费用将原路退回。",
            ["patient", "doctor", "time", "order_no"],
        ),
        _template(
            "schedule_suspended",
            "{patient}，很抱歉，{hospital}{doctor}医生{time}停诊，您的预约（订单号{order_no}）已取消，"
            "已付费用将原路退回，不计为您的取消或爽约。{alternatives}。",
            ["patient", "hospital", "doctor", "time", "order_no", "alternatives"],
            blank_defaults={"alternatives": "可改约其他号源，详情请登录挂号平台查看"},
        ),
        _template(
            "waitlist_promoted",
            "{patient}，您候补的{doctor}医生{time}的号源已为您保留，请在{deadline}前完成支付，"
            "逾期将自动释放。订单号{order_no}。",
            ["patient", "doctor", "time", "deadline", "order_no"],
        ),
        _template(
            "lottery_won",
            "{patient}，恭喜您在{doctor}医生{time}号源的抽签中中签，请在{deadline}前完成支付，"
            "逾期视为放弃。订单号{order_no}。",
            ["patient", "doctor", "time", "deadline", "order_no"],
        ),
        _template(
            "lottery_lost",
            "{patient}，很遗憾，您参与的{doctor}医生{date}号源抽签未中签，欢迎预约其他号源。",
            ["patient", "doctor", "date"],
        ),
        _template(
            "visit_reminder",
            "{patient}，温馨提醒：您预约了{time}在{hospital}就诊（{doctor}医生，就诊序号{queue_number}），"
            "请提前到院签到。",
            ["patient", "hospital", "doctor", "time", "queue_number"],
        ),
        _template(
            "refund_completed",
            "{patient}，您的订单{order_no}已退款{amount}元，将原路退回，请注意查收。",
            ["patient", "order_no", "amount"],
            money=("amount",),
        ),
        _template(
            "payment_expired",
            "{patient}，您的订单{order_no}因超时未支付已自动取消，号源已释放。",
            ["patient", "order_no"],
        ),
    ]
)


def get_template(code: str) -> SmsTemplate:
    try:
        return SMS_TEMPLATES[code]
    except KeyError:
        raise SmsTemplateError(f"Unknown SMS template {code!r}; known: {', '.join(sorted(SMS_TEMPLATES))}") from None
