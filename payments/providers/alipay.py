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

from payments import conf
from payments.errors import NotificationRejected, ProviderError, ProviderUnavailable
from payments.models import Method
from payments.money import fen_to_yuan, yuan_to_fen
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
# Business errors after which asking again may succeed.
RETRYABLE_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "ACQ.REASON_TRADE_REFUND_FEE_ERR_RETRY"}


def _local_text(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _parse_local(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        naive = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return timezone.make_aware(naive)


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
        return self._trade_report(answer, payment.out_trade_no)

    def _trade_report(self, fields, out_trade_no) -> TradeReport:
        status = fields.get("trade_status", "")
        if status in PAID_STATUSES:
            state = TradeState.PAID
        elif status == "TRADE_CLOSED":
            state = TradeState.CLOSED
        else:
            state = TradeState.OPEN
        try:
            amount = yuan_to_fen(fields["total_amount"]) if fields.get("total_amount") else None
        except ValueError as exc:
            raise ProviderError() from exc
        paid_at = _parse_local(fields.get("gmt_payment") or fields.get("send_pay_date"))
        return TradeReport(
            out_trade_no=fields.get("out_trade_no") or out_trade_no,
            state=state,
            amount_fen=amount,
            trade_no=fields.get("trade_no", ""),
            paid_at=paid_at,
            raw=dict(fields),
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
        fields = dict(incoming.form)
        raw = dict(fields)
        signature = fields.pop("sign", "")
        if not signature:
            raise NotificationRejected(reason="missing sign")
        try:
            verified = self.client.verify(fields, signature)
        except (AliPayException, binascii.Error, ValueError):
            verified = False
        if not verified:
            raise NotificationRejected(reason="bad signature")
        if fields.get("app_id") != self.settings.app_id:
            raise NotificationRejected(reason="app_id mismatch")
        if self.settings.seller_id and fields.get("seller_id") != self.settings.seller_id:
            raise NotificationRejected(reason="seller_id mismatch")
        if not fields.get("out_trade_no"):
            raise NotificationRejected(reason="missing out_trade_no")
        try:
            return self._trade_report(raw, fields["out_trade_no"])
        except ProviderError as exc:
            raise NotificationRejected(reason="bad amount") from exc


def build() -> AlipayProvider | None:
    found = conf.alipay_settings()
    return AlipayProvider(found) if found else None
