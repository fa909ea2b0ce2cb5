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

import requests
from django.utils import timezone
from wechatpayv3 import WeChatPay, WeChatPayType

from payments import conf
from payments.errors import NotificationRejected, ProviderError, ProviderUnavailable
from payments.models import Method
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
PAID_STATES = {"SUCCESS", "REFUND"}
CLOSED_STATES = {"CLOSED", "REVOKED"}
REFUND_STATES = {
    "SUCCESS": RefundState.SUCCEEDED,
    "PROCESSING": RefundState.PROCESSING,
    "CLOSED": RefundState.FAILED,
    "ABNORMAL": RefundState.FAILED,
}


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


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
        return self._trade_report(body)

    def _trade_report(self, fields) -> TradeReport:
        trade_state = fields.get("trade_state", "")
        if trade_state in PAID_STATES:
            state = TradeState.PAID
        elif trade_state in CLOSED_STATES:
            state = TradeState.CLOSED
        else:
            state = TradeState.OPEN
        amount = (fields.get("amount") or {}).get("total")
        return TradeReport(
            out_trade_no=fields.get("out_trade_no", ""),
            state=state,
            amount_fen=amount if isinstance(amount, int) else None,
            trade_no=fields.get("transaction_id", ""),
            paid_at=_parse_time(fields.get("success_time")),
            raw=dict(fields),
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
            return self._refund_report(body, refund.refund_no)
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
        return self._refund_report(body, refund.refund_no)

    def _refund_report(self, fields, refund_no) -> RefundReport:
        state_text = fields.get("status") or fields.get("refund_status") or ""
        amount = (fields.get("amount") or {}).get("refund")
        return RefundReport(
            refund_no=fields.get("out_refund_no") or refund_no,
            state=REFUND_STATES.get(state_text, RefundState.PROCESSING),
            amount_fen=amount if isinstance(amount, int) else None,
            out_trade_no=fields.get("out_trade_no", ""),
            provider_refund_id=fields.get("refund_id", ""),
            error="" if state_text in ("SUCCESS", "PROCESSING") else state_text,
            raw=dict(fields),
        )

    # Incoming notifications -----------------------------------------------------------------

    def _verified_resource(self, incoming: IncomingNotification) -> tuple[dict, dict]:
        headers = incoming.headers
        if headers.get("Wechatpay-Signature-Type") != SIGNATURE_TYPE:
            raise NotificationRejected(reason="unsupported signature type")
        if headers.get("Wechatpay-Serial") != self.settings.public_key_id:
            raise NotificationRejected(reason="unknown platform key serial")
        try:
            result = self.client.callback(headers, incoming.body)
        except Exception as exc:  # malformed JSON or resource
            raise NotificationRejected(reason="malformed notification") from exc
        if not result or not isinstance(result.get("resource"), dict):
            raise NotificationRejected(reason="bad signature or ciphertext")
        resource = result["resource"]
        if resource.get("mchid") != self.settings.mchid:
            raise NotificationRejected(reason="mchid mismatch")
        return result, resource

    def parse_payment_notification(self, incoming):
        result, resource = self._verified_resource(incoming)
        if resource.get("appid") != self.settings.appid:
            raise NotificationRejected(reason="appid mismatch")
        if not resource.get("out_trade_no"):
            raise NotificationRejected(reason="missing out_trade_no")
        report = self._trade_report(resource)
        return TradeReport(
            out_trade_no=report.out_trade_no,
            state=report.state,
            amount_fen=report.amount_fen,
            trade_no=report.trade_no,
            paid_at=report.paid_at,
            raw={"id": result.get("id"), "event_type": result.get("event_type"), "resource": resource},
        )

    def parse_refund_notification(self, incoming):
        result, resource = self._verified_resource(incoming)
        if not resource.get("out_refund_no"):
            raise NotificationRejected(reason="missing out_refund_no")
        report = self._refund_report(resource, resource["out_refund_no"])
        return RefundReport(
            refund_no=report.refund_no,
            state=report.state,
            amount_fen=report.amount_fen,
            out_trade_no=report.out_trade_no,
            provider_refund_id=report.provider_refund_id,
            error=report.error,
            raw={"id": result.get("id"), "event_type": result.get("event_type"), "resource": resource},
        )


def build() -> WechatProvider | None:
    found = conf.wechat_settings()
    return WechatProvider(found) if found else None
