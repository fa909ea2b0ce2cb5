"""Errors a patient, the booking app or a payment provider's caller can cause; each has a stable `code`."""

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


class PaymentError(DomainError):
    status = 409


class ProviderUnavailable(PaymentError):
    code = "provider_unavailable"
    status = 503
    message = _("该支付方式暂不可用，请选择其他支付方式。")


class UnsupportedMethod(PaymentError):
    code = "unsupported_method"
    status = 400
    message = _("该支付方式不支持此付款场景。")


class InvalidAmount(PaymentError):
    code = "invalid_amount"
    status = 400
    message = _("支付金额无效。")


class OrderAlreadyPaid(PaymentError):
    code = "order_already_paid"
    message = _("该订单已支付，请勿重复支付。")


class PaymentExpired(PaymentError):
    code = "payment_expired"
    message = _("订单已超过支付时限，请重新预约。")


class ProviderError(PaymentError):
    """The provider could not be reached or answered something we cannot use; safe to retry later."""

    code = "provider_error"
    status = 502
    message = _("支付渠道暂时无法响应，请稍后再试。")


class NotificationRejected(PaymentError):
    """A notification that is forged, malformed or does not match what we asked the provider for."""

    code = "notification_rejected"
    status = 400
    message = _("通知校验失败：%(reason)s")
