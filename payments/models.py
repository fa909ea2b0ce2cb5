import secrets

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.money import fen_to_yuan


class Provider(models.TextChoices):
    ALIPAY = "alipay", _("支付宝")
    WECHAT = "wechat", _("微信支付")
    SANDBOX = "sandbox", _("模拟支付")


class Method(models.TextChoices):
    WAP = "wap", _("手机网站支付")
    PAGE = "page", _("网页支付")
    NATIVE = "native", _("扫码支付")
    H5 = "h5", _("H5支付")


PROVIDER_METHODS = {
    Provider.ALIPAY: {Method.WAP, Method.PAGE},
    Provider.WECHAT: {Method.NATIVE, Method.H5},
    Provider.SANDBOX: {Method.PAGE},
}
# What an API client gets when it names only the provider: a mobile web page for Alipay, a QR
# code (`code_url`) for WeChat Pay, the 模拟支付 page for the sandbox.
DEFAULT_METHODS = {Provider.ALIPAY: Method.WAP, Provider.WECHAT: Method.NATIVE, Provider.SANDBOX: Method.PAGE}


def _new_number(prefix: str) -> str:
    """P/R + local date + 16 random hex digits: 25 characters, fits WeChat's 32 and Alipay's 64."""
    return f"{prefix}{timezone.localdate():%Y%m%d}{secrets.token_hex(8).upper()}"


def new_out_trade_no() -> str:
    return _new_number("P")


def new_refund_no() -> str:
    return _new_number("R")


class Payment(models.Model):
    """One attempt to collect one charge of an order through one provider.

    `out_trade_no` is ours and unique per attempt, so an order closed at one provider can still be
    paid through a fresh attempt; the order is identified by `order_no`. An order may owe more than
    one charge: its own amount (`charge` empty) and later supplements, such as the fee difference
    of a 改约 to a dearer place, each named by its owner. Each charge is paid at most once, each
    attempt has its own `out_trade_no` at the provider, and refunding the order returns them all.
    """

    class Status(models.TextChoices):
        CREATED = "created", _("待支付")
        PAID = "paid", _("已支付")
        CLOSED = "closed", _("已关闭")
        REFUNDING = "refunding", _("退款中")
        REFUNDED = "refunded", _("已退款")

    # Where each status may come from. A closed payment can still become paid: money that
    # arrives after the deadline is recorded, and the order's owner decides to refund it.
    # A payment may be refunded in parts: it is `refunding` while any refund is in flight, `paid`
    # again when the refunds so far cover only part of it, and `refunded` once they cover it all.
    TRANSITIONS = {
        Status.PAID: {Status.CREATED, Status.CLOSED, Status.REFUNDING},
        Status.CLOSED: {Status.CREATED},
        Status.REFUNDING: {Status.PAID, Status.CREATED, Status.CLOSED, Status.REFUNDING},
        Status.REFUNDED: {Status.REFUNDING},
    }
    OPEN_STATUSES = (Status.CREATED,)
    HELD_STATUSES = (Status.PAID, Status.REFUNDING)

    order_no = models.CharField(_("订单号"), max_length=32, db_index=True)
    charge = models.CharField(
        _("收费项"),
        max_length=24,
        blank=True,
        default="",
        help_text=_("空：订单本身的金额；否则为追加收费（如改约补差价）的名称。每个收费项只能支付一次。"),
    )
    out_trade_no = models.CharField(_("商户支付单号"), max_length=32, unique=True, default=new_out_trade_no)
    provider = models.CharField(_("支付渠道"), max_length=10, choices=Provider.choices)
    method = models.CharField(_("支付方式"), max_length=10, choices=Method.choices)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    # The sum of this payment's refunds that are not failed (in flight or done). Raised by one
    # conditional UPDATE under the row lock, and the check constraint below keeps it within the
    # amount, so concurrent refunds can never give back more than was paid.
    refund_reserved_fen = models.PositiveIntegerField(_("已申请退款金额（分）"), default=0)
    subject = models.CharField(_("商品描述"), max_length=127)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.CREATED)
    provider_trade_no = models.CharField(_("渠道交易号"), max_length=64, blank=True)
    expires_at = models.DateTimeField(_("支付截止时间"))
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    client_ip = models.GenericIPAddressField(_("客户端IP"), null=True, blank=True)
    return_url = models.CharField(_("支付后返回地址"), max_length=500, blank=True)
    notification = models.JSONField(_("渠道通知原文"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("支付单")
        verbose_name_plural = _("支付单")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refund_reserved_fen__lte=F("amount_fen")), name="payments_payment_refunds_within_amount"
            ),
            models.UniqueConstraint(
                fields=["order_no", "charge"], condition=Q(status="paid"), name="payments_payment_one_paid_per_charge"
            ),
            models.UniqueConstraint(
                fields=["order_no", "charge", "provider", "method"],
                condition=Q(status="created"),
                name="payments_payment_one_open_per_channel",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="payments_status_created")]

    def __str__(self):
        return f"{self.out_trade_no} ({self.order_no})"

    @property
    def amount_yuan(self) -> str:
        return fen_to_yuan(self.amount_fen)

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None

    @property
    def refundable_fen(self) -> int:
        """What is left to refund: the amount less every refund that has not failed."""
        return self.amount_fen - self.refund_reserved_fen


class Refund(models.Model):
    """A refund of all or part of one payment; `refund_no` is its own request number at the provider
    (Alipay out_request_no, WeChat out_refund_no), so a retried request refunds once.

    A payment may have several; the sum of those not failed never exceeds its amount
    (`Payment.refund_reserved_fen`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待提交")
        PROCESSING = "processing", _("退款处理中")
        SUCCEEDED = "succeeded", _("退款成功")
        FAILED = "failed", _("退款失败")

    TRANSITIONS = {
        Status.PENDING: {Status.PROCESSING},  # the provider does not know it after all: submit again
        Status.PROCESSING: {Status.PENDING},
        Status.SUCCEEDED: {Status.PENDING, Status.PROCESSING},
        Status.FAILED: {Status.PENDING, Status.PROCESSING},
    }
    IN_FLIGHT_STATUSES = (Status.PENDING, Status.PROCESSING)

    refund_no = models.CharField(_("退款单号"), max_length=32, unique=True, default=new_refund_no)
    payment = models.ForeignKey(Payment, verbose_name=_("支付单"), on_delete=models.PROTECT, related_name="refunds")
    amount_fen = models.PositiveIntegerField(_("退款金额（分）"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("退款原因"), max_length=80, blank=True)
    provider_refund_id = models.CharField(_("渠道退款单号"), max_length=64, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=255, blank=True)
    raw = models.JSONField(_("渠道返回原文"), null=True, blank=True)
    succeeded_at = models.DateTimeField(_("退款成功时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("退款单")
        verbose_name_plural = _("退款单")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_refund_amount_positive"),
        ]

    def __str__(self):
        return self.refund_no

    @property
    def amount_yuan(self) -> str:
        return fen_to_yuan(self.amount_fen)


class OfflinePayment(models.Model):
    """Money taken at the hospital's window (cash or card), recorded with who took it.

    It never goes through a provider: the window's own till and card terminal are the record.
    """

    class Method(models.TextChoices):
        CASH = "cash", _("现金")
        CARD = "card", _("银行卡")

    order_no = models.CharField(_("订单号"), max_length=32, unique=True)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    method = models.CharField(_("收费方式"), max_length=10, choices=Method.choices)
    taken_by = models.ForeignKey("accounts.User", verbose_name=_("收费人"), on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField(_("收费时间"))

    class Meta:
        verbose_name = _("窗口收费")
        verbose_name_plural = _("窗口收费")
        ordering = ["-taken_at"]

    def __str__(self):
        return f"{self.order_no} {self.get_method_display()} {fen_to_yuan(self.amount_fen)}"
