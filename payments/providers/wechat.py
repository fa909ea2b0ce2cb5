"""WeChat Pay API v3 (微信支付) through wechatpayv3, in platform public-key mode.

Public-key mode (public_key + public_key_id) makes no network call at construction and verifies
every 2xx response and every notification against that key. A notification whose serial differs
from our public_key_id would make the SDK download certificates; such notifications are refused
before the SDK sees them.
"""

from __future__ import annotations

import datetime
import json
import logging
import time

import requests
from django.utils import timezone
from wechatpayv3 import WeChatPay, WeChatPayType

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

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# The SDK checks the signature but not the age: a validly signed notification is refused unless
# its Wechatpay-Timestamp is within this many seconds of our clock (either way), so an old one
# cannot be replayed to settle or refund anything.
NOTIFICATION_MAX_SKEW = 5 * 60
PAID_STATES = {"SUCCESS", "REFUND"}
CLOSED_STATES = {"CLOSED", "REVOKED"}
OPEN_STATES = {"NOTPAY", "USERPAYING", "PAYERROR"}
REFUND_STATES = {
    "SUCCESS": RefundState.SUCCEEDED,
    "PROCESSING": RefundState.PROCESSING,
    "CLOSED": RefundState.FAILED,
    "ABNORMAL": RefundState.FAILED,
}


def timestamp_is_fresh(timestamp: str, *, now: float) -> bool:
    """A Wechatpay-Timestamp (whole seconds) within NOTIFICATION_MAX_SKEW of `now`, either way."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    return abs(now - int(timestamp)) <= NOTIFICATION_MAX_SKEW


class WechatProvider(PaymentProvider):
    name = "wechat"

    def __init__(self, settings: conf.WechatSettings):
        self.settings = settings
        try:
            self.client = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE,
                mchid=settings.mchid,
                private_key=settings.private_key,
                cert_serial_no=settings.cert_serial_no,
                appid=settings.appid,
                apiv3_key=settings.apiv3_key,
                notify_url=None,  # given per call
                # No SDK logger: at debug level it would log Authorization headers and decrypted bodies.
                timeout=(5, settings.timeout),
                public_key=settings.public_key,
                public_key_id=settings.public_key_id,
            )
        except Exception as exc:  # the SDK raises a bare Exception for unreadable keys
            logger.error("WeChat Pay keys could not be loaded: %s", exc)
            raise ProviderUnavailable() from exc

    # Outgoing calls -------------------------------------------------------------------------

    def _call(self, api, **kwargs) -> tuple[int, dict]:
        try:
            status, text = api(**kwargs)
        except requests.RequestException as exc:
            logger.warning("WeChat Pay call %s failed: %s", api.__name__, exc)
            raise ProviderError() from exc
        except Exception as exc:  # signature of a 2xx answer did not verify
            logger.error("WeChat Pay call %s: %s", api.__name__, exc)
            raise ProviderError() from exc
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {"text": text[:200]}
        if not isinstance(body, dict):
            body = {"text": str(body)[:200]}
        if status >= 500:
            logger.warning("WeChat Pay call %s answered %s: %s", api.__name__, status, body)
            raise ProviderError()
        return status, body

    def start(self, payment, *, notify_url, return_url):
        expire = timezone.localtime(payment.expires_at).isoformat(timespec="seconds")
        common = {
            "description": payment.subject,
            "out_trade_no": payment.out_trade_no,
            "amount": {"total": payment.amount_fen, "currency": "CNY"},
            "time_expire": expire,
            "notify_url": notify_url,
        }
        if payment.method == Method.H5:
            scene = {"payer_client_ip": payment.client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
            status, body = self._call(self.client.pay, pay_type=WeChatPayType.H5, scene_info=scene, **common)
        else:
            status, body = self._call(self.client.pay, pay_type=WeChatPayType.NATIVE, **common)
        if status != 200:
            logger.warning("WeChat Pay refused to create %s: %s", payment.out_trade_no, body)
            raise ProviderError()
        if payment.method == Method.H5:
            url = body.get("h5_url", "")
            if url and return_url:
                # H5 pages send the payer back to redirect_url after paying (or cancelling).
                url = f"{url}&redirect_url={requests.utils.quote(return_url, safe='')}"
            return StartedTrade(redirect_url=url)
        return StartedTrade(code_url=body.get("code_url", ""))

    def query(self, payment):
        status, body = self._call(self.client.query, out_trade_no=payment.out_trade_no)
        if status == 404 or body.get("code") == "ORDER_NOT_EXIST":
            return TradeReport(out_trade_no=payment.out_trade_no, state=TradeState.NOT_FOUND, raw=body)
        if status != 200:
            raise ProviderError()
        try:
            return self._trade_report(body)
        except fields.MalformedField as exc:
            logger.error("WeChat Pay answered a query about %s with %s", payment.out_trade_no, exc)
            raise ProviderError() from exc

    def _trade_report(self, answer) -> TradeReport:
        """A transaction (query answer or decrypted notification); raises fields.MalformedField."""
        trade_state = fields.choice(answer, "trade_state", PAID_STATES | CLOSED_STATES | OPEN_STATES)
        if trade_state in PAID_STATES:
            state = TradeState.PAID
        elif trade_state in CLOSED_STATES:
            state = TradeState.CLOSED
        else:
            state = TradeState.OPEN
        paid = state is TradeState.PAID
        amount = fields.mapping(answer, "amount", required=paid)
        return TradeReport(
            out_trade_no=fields.text(answer, "out_trade_no"),
            state=state,
            amount_fen=fields.whole_number(amount, "total", required=paid),
            trade_no=fields.text(answer, "transaction_id", required=paid),
            paid_at=fields.moment(answer, "success_time", datetime.datetime.fromisoformat, required=paid),
            raw=fields.storable(dict(answer)),
        )

    def close(self, payment):
        status, body = self._call(self.client.close, out_trade_no=payment.out_trade_no)
        if status in (200, 204):
            return TradeState.CLOSED
        if body.get("code") == "ORDERPAID":
            return TradeState.PAID
        if body.get("code") in ("ORDER_NOT_EXIST", "ORDER_CLOSED", "ORDERCLOSED"):
            return TradeState.CLOSED
        raise ProviderError()

    def refund(self, refund):
        payment = refund.payment
        status, body = self._call(
            self.client.refund,
            out_refund_no=refund.refund_no,
            amount={"refund": refund.amount_fen, "total": payment.amount_fen, "currency": "CNY"},
            out_trade_no=payment.out_trade_no,
            reason=refund.reason or None,
            notify_url=conf.absolute_url("payments:notify_wechat_refund"),
        )
        if status == 200:
            return self._answered_refund(body, refund)
        if body.get("code") in ("SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH"):
            raise ProviderError()
        return RefundReport(
            refund_no=refund.refund_no,
            state=RefundState.FAILED,
            error=f"{body.get('code', status)} {body.get('message', '')}".strip(),
            raw=body,
        )

    def query_refund(self, refund):
        status, body = self._call(self.client.query_refund, out_refund_no=refund.refund_no)
        if status == 404 or body.get("code") == "RESOURCE_NOT_EXISTS":
            return RefundReport(refund_no=refund.refund_no, state=RefundState.NOT_FOUND, raw=body)
        if status != 200:
            raise ProviderError()
        return self._answered_refund(body, refund)

    def _answered_refund(self, body, refund) -> RefundReport:
        try:
            return self._refund_report(body, refund.refund_no)
        except fields.MalformedField as exc:
            logger.error("WeChat Pay answered about refund %s with %s", refund.refund_no, exc)
            raise ProviderError() from exc

    def _refund_report(self, answer, refund_no, *, notification: bool = False) -> RefundReport:
        """A refund (answer or decrypted notification); raises fields.MalformedField.

        Answers name the state `status`, notifications `refund_status`; an answer's unknown state
        reads as still processing, a notification's is malformed.
        """
        if notification:
            state_text = fields.choice(answer, "refund_status", REFUND_STATES)
        else:
            state_text = fields.text(answer, "status", required=False) or fields.text(
                answer, "refund_status", required=False
            )
        amount = fields.mapping(answer, "amount", required=notification)
        return RefundReport(
            refund_no=fields.text(answer, "out_refund_no", required=notification) or refund_no,
            state=REFUND_STATES.get(state_text, RefundState.PROCESSING),
            amount_fen=fields.whole_number(amount, "refund", required=notification),
            out_trade_no=fields.text(answer, "out_trade_no", required=notification),
            provider_refund_id=fields.text(answer, "refund_id", required=False),
            error="" if state_text in ("SUCCESS", "PROCESSING") else state_text,
            raw=fields.storable(dict(answer)),
        )

    # Incoming notifications -----------------------------------------------------------------

    def _verified_resource(self, incoming: IncomingNotification) -> tuple[dict, dict]:
        headers = incoming.headers
        if headers.get("Wechatpay-Signature-Type") != SIGNATURE_TYPE:
            raise NotificationRejected(reason="unsupported signature type")
        if headers.get("Wechatpay-Serial") != self.settings.public_key_id:
            raise NotificationRejected(reason="unknown platform key serial")
        if not timestamp_is_fresh(headers.get("Wechatpay-Timestamp") or "", now=time.time()):
            raise NotificationRejected(reason="timestamp missing or not within 5 minutes")
        try:
            result = self.client.callback(headers, incoming.body)
        except Exception as exc:  # malformed JSON or resource
            raise NotificationRejected(reason="malformed notification") from exc
        if not isinstance(result, dict) or not isinstance(result.get("resource"), dict):
            raise NotificationRejected(reason="bad signature or ciphertext")
        resource = result["resource"]
        if resource.get("mchid") != self.settings.mchid:
            raise NotificationRejected(reason="mchid mismatch")
        return result, resource

    @staticmethod
    def _envelope(result: dict, resource: dict) -> dict:
        return fields.storable({"id": result.get("id"), "event_type": result.get("event_type"), "resource": resource})

    def parse_payment_notification(self, incoming):
        result, resource = self._verified_resource(incoming)
        if resource.get("appid") != self.settings.appid:
            raise NotificationRejected(reason="appid mismatch")
        try:
            report = self._trade_report(resource)
            raw = self._envelope(result, resource)
        except fields.MalformedField as exc:
            raise NotificationRejected(reason=str(exc)) from exc
        return TradeReport(
            out_trade_no=report.out_trade_no,
            state=report.state,
            amount_fen=report.amount_fen,
            trade_no=report.trade_no,
            paid_at=report.paid_at,
            raw=raw,
        )

    def parse_refund_notification(self, incoming):
        result, resource = self._verified_resource(incoming)
        try:
            report = self._refund_report(resource, "", notification=True)
            raw = self._envelope(result, resource)
        except fields.MalformedField as exc:
            raise NotificationRejected(reason=str(exc)) from exc
        return RefundReport(
            refund_no=report.refund_no,
            state=report.state,
            amount_fen=report.amount_fen,
            out_trade_no=report.out_trade_no,
            provider_refund_id=report.provider_refund_id,
            error=report.error,
            raw=raw,
        )


def build() -> WechatProvider | None:
    found = conf.wechat_settings()
    return WechatProvider(found) if found else None
