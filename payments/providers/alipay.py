"""Alipay (支付宝) through python-alipay-sdk, RSA2 keys.

The SDK signs requests, verifies synchronous responses and notifications; it talks to the gateway
with urllib (`alipay.urlopen`). Business failures come back signed with a code other than "10000".
"""

from __future__ import annotations

import binascii
import datetime
import logging
import urllib.error

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.utils import timezone

from config.money import fen_to_yuan, yuan_to_fen
from payments import conf
from payments.errors import NotificationRejected, ProviderError, ProviderUnavailable
from payments.models import Method
from payments.providers import fields
from payments.providers.base import (
    IncomingNotification,
    PaymentProvider,
    RefundReport,
    RefundState,
    StartedTrade,
    TradeReport,
    TradeState,
)

logger = logging.getLogger(__name__)

SUCCESS = "10000"
PAID_STATUSES = {"TRADE_SUCCESS", "TRADE_FINISHED"}
TRADE_STATUSES = PAID_STATUSES | {"WAIT_BUYER_PAY", "TRADE_CLOSED"}
# Business errors after which asking again may succeed.
RETRYABLE_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "ACQ.REASON_TRADE_REFUND_FEE_ERR_RETRY"}


def _local_text(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _parse_local(text: str) -> datetime.datetime:
    """Alipay's "yyyy-MM-dd HH:mm:ss", Beijing time."""
    return timezone.make_aware(datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S"))


class AlipayProvider(PaymentProvider):
    name = "alipay"

    def __init__(self, settings: conf.AlipaySettings):
        self.settings = settings
        try:
            self.client = AliPay(
                appid=settings.app_id,
                app_notify_url=None,
                app_private_key_string=settings.private_key,
                alipay_public_key_string=settings.alipay_public_key,
                sign_type="RSA2",
                debug=settings.debug,
                config=AliPayConfig(timeout=settings.timeout),
            )
        except (ValueError, IndexError, TypeError) as exc:
            logger.error("Alipay keys could not be loaded: %s", exc)
            raise ProviderUnavailable() from exc

    # Outgoing calls -------------------------------------------------------------------------

    def _call(self, api, **kwargs) -> dict:
        try:
            return api(**kwargs)
        except AliPayValidationError as exc:
            logger.error("Alipay response signature did not verify (%s)", api.__name__)
            raise ProviderError() from exc
        except (AliPayException, urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("Alipay call %s failed: %s", api.__name__, exc)
            raise ProviderError() from exc

    def start(self, payment, *, notify_url, return_url):
        sign = (
            self.client.api_alipay_trade_wap_pay
            if payment.method == Method.WAP
            else self.client.api_alipay_trade_page_pay
        )
        query = sign(
            subject=payment.subject,
            out_trade_no=payment.out_trade_no,
            total_amount=fen_to_yuan(payment.amount_fen),
            return_url=return_url or None,
            notify_url=notify_url,
            time_expire=_local_text(payment.expires_at),
        )
        return StartedTrade(redirect_url=f"{self.client._gateway}?{query}")

    def query(self, payment):
        answer = self._call(self.client.api_alipay_trade_query, out_trade_no=payment.out_trade_no)
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return TradeReport(out_trade_no=payment.out_trade_no, state=TradeState.NOT_FOUND, raw=answer)
            raise ProviderError()
        try:
            return self._trade_report(answer, payment.out_trade_no)
        except fields.MalformedField as exc:
            logger.error("Alipay answered a query about %s with %s", payment.out_trade_no, exc)
            raise ProviderError() from exc

    def _trade_report(self, answer, out_trade_no) -> TradeReport:
        """A trade (query answer or notification); raises fields.MalformedField."""
        status = fields.choice(answer, "trade_status", TRADE_STATUSES)
        if status in PAID_STATUSES:
            state = TradeState.PAID
        elif status == "TRADE_CLOSED":
            state = TradeState.CLOSED
        else:
            state = TradeState.OPEN
        amount = fields.text(answer, "total_amount", required=state is TradeState.PAID)
        try:
            amount_fen = yuan_to_fen(amount) if amount else None
        except ValueError as exc:
            raise fields.MalformedField("total_amount is not an amount") from exc
        paid_at = fields.moment(answer, "gmt_payment", _parse_local, required=False) or fields.moment(
            answer, "send_pay_date", _parse_local, required=False
        )
        return TradeReport(
            out_trade_no=fields.text(answer, "out_trade_no", required=False) or out_trade_no,
            state=state,
            amount_fen=amount_fen,
            trade_no=fields.text(answer, "trade_no", required=False),
            paid_at=paid_at,
            raw=fields.storable(dict(answer)),
        )

    def close(self, payment):
        answer = self._call(self.client.api_alipay_trade_close, out_trade_no=payment.out_trade_no)
        if answer.get("code") == SUCCESS or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return TradeState.CLOSED
        if answer.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            # Already paid (or finished): the caller queries and settles.
            return TradeState.PAID
        raise ProviderError()

    def refund(self, refund):
        payment = refund.payment
        answer = self._call(
            self.client.api_alipay_trade_refund,
            refund_amount=fen_to_yuan(refund.amount_fen),
            out_trade_no=payment.out_trade_no,
            out_request_no=refund.refund_no,
            refund_reason=refund.reason or "退款",
        )
        if answer.get("code") == SUCCESS:
            # 10000 means accepted; only fund_change "Y" says the money moved in this call. Otherwise
            # (e.g. a repeated out_request_no) the refund query confirms it later.
            return RefundReport(
                refund_no=refund.refund_no,
                state=RefundState.SUCCEEDED if answer.get("fund_change") == "Y" else RefundState.PROCESSING,
                amount_fen=refund.amount_fen,
                out_trade_no=payment.out_trade_no,
                provider_refund_id=answer.get("trade_no", ""),
                raw=answer,
            )
        if answer.get("sub_code") in RETRYABLE_SUB_CODES:
            raise ProviderError()
        return RefundReport(
            refund_no=refund.refund_no,
            state=RefundState.FAILED,
            error=f"{answer.get('sub_code', '')} {answer.get('sub_msg', '')}".strip(),
            raw=answer,
        )

    def query_refund(self, refund):
        answer = self._call(
            self.client.api_alipay_trade_fastpay_refund_query,
            out_request_no=refund.refund_no,
            out_trade_no=refund.payment.out_trade_no,
        )
        if answer.get("code") != SUCCESS:
            raise ProviderError()
        # Documented rule: data present and refund_status empty or REFUND_SUCCESS means refunded.
        if not answer.get("refund_amount"):
            return RefundReport(refund_no=refund.refund_no, state=RefundState.NOT_FOUND, raw=answer)
        if answer.get("refund_status") in ("", None, "REFUND_SUCCESS"):
            return RefundReport(
                refund_no=refund.refund_no,
                state=RefundState.SUCCEEDED,
                amount_fen=yuan_to_fen(answer["refund_amount"]),
                provider_refund_id=answer.get("trade_no", ""),
                raw=answer,
            )
        return RefundReport(refund_no=refund.refund_no, state=RefundState.PROCESSING, raw=answer)

    # Incoming notifications -----------------------------------------------------------------

    def parse_payment_notification(self, incoming: IncomingNotification) -> TradeReport:
        form = dict(incoming.form)
        raw = dict(form)
        signature = form.pop("sign", "")
        if not signature or not isinstance(signature, str):
            raise NotificationRejected(reason="missing sign")
        try:
            verified = self.client.verify(form, signature)
        except (AliPayException, binascii.Error, ValueError, TypeError):
            verified = False
        if not verified:
            raise NotificationRejected(reason="bad signature")
        if form.get("app_id") != self.settings.app_id:
            raise NotificationRejected(reason="app_id mismatch")
        if form.get("seller_id") != self.settings.seller_id:
            raise NotificationRejected(reason="seller_id mismatch")
        try:
            return self._trade_report(raw, fields.text(form, "out_trade_no"))
        except fields.MalformedField as exc:
            raise NotificationRejected(reason=str(exc)) from exc


def build() -> AlipayProvider | None:
    found = conf.alipay_settings()
    return AlipayProvider(found) if found else None
