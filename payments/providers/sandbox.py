"""模拟支付: a provider that lives on our own site, for demos and development only.

Its "notification" is a JSON body signed with the sandbox's own HMAC key and goes through the
same verification and apply-once path as Alipay's and WeChat's. It exists only while
settings.PAYMENTS_SANDBOX is true.
"""

from __future__ import annotations

import datetime
import json
import secrets

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from payments import conf
from payments.errors import NotificationRejected
from payments.providers.base import (
    IncomingNotification,
    PaymentProvider,
    RefundReport,
    RefundState,
    StartedTrade,
    TradeReport,
    TradeState,
)

SIGNATURE_HEADER = "X-Sandbox-Signature"
PAGE_SALT = "payments.page"
# How long a page link works after the payment was started. The payer lands on the return page
# right after paying (a day leaves room for a slow bank); the sandbox page is for paying now.
RETURN_PAGE_MAX_AGE = 24 * 60 * 60
SANDBOX_PAGE_MAX_AGE = 60 * 60


def page_token(payment_id: int) -> str:
    """An unguessable, timestamped reference to a payment for our own pages (sandbox and return pages)."""
    return signing.dumps(payment_id, salt=PAGE_SALT, compress=False)


def payment_id_from_token(token: str, *, max_age: int) -> int | None:
    """The payment a page link names, or None for a forged one; raises signing.SignatureExpired when too old."""
    try:
        value = signing.loads(token, salt=PAGE_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _signature(body: bytes) -> str:
    secret = getattr(settings, "PAYMENTS_SANDBOX_KEY", None) or settings.SECRET_KEY
    return salted_hmac("payments.sandbox.notify", body, secret=secret, algorithm="sha256").hexdigest()


def build_paid_notification(payment) -> IncomingNotification:
    """What the sandbox "provider" sends when the demo user presses 确认支付."""
    body = json.dumps(
        {
            "out_trade_no": payment.out_trade_no,
            "amount_fen": payment.amount_fen,
            "trade_no": f"SANDBOX{secrets.token_hex(10).upper()}",
            "trade_status": "PAID",
            "paid_at": timezone.now().isoformat(),
        },
        separators=(",", ":"),
    ).encode()
    return IncomingNotification(headers={SIGNATURE_HEADER: _signature(body)}, body=body)


class SandboxProvider(PaymentProvider):
    """The sandbox keeps no state of its own: what it knows is what was delivered through it."""

    name = "sandbox"

    def start(self, payment, *, notify_url, return_url):
        return StartedTrade(redirect_url=reverse("payments:sandbox_page", kwargs={"token": page_token(payment.pk)}))

    def query(self, payment):
        state = TradeState.PAID if payment.paid_at else TradeState.OPEN
        return TradeReport(
            out_trade_no=payment.out_trade_no,
            state=state,
            amount_fen=payment.amount_fen,
            trade_no=payment.provider_trade_no,
            paid_at=payment.paid_at,
        )

    def close(self, payment):
        return TradeState.CLOSED

    def refund(self, refund):
        return RefundReport(
            refund_no=refund.refund_no,
            state=RefundState.SUCCEEDED,
            amount_fen=refund.amount_fen,
            provider_refund_id=f"SANDBOX{refund.refund_no}",
            raw={"sandbox": True},
        )

    def query_refund(self, refund):
        return self.refund(refund)

    def parse_payment_notification(self, incoming: IncomingNotification):
        given = incoming.headers.get(SIGNATURE_HEADER, "")
        if not given or not constant_time_compare(given, _signature(incoming.body)):
            raise NotificationRejected(reason="bad signature")
        try:
            fields = json.loads(incoming.body)
            amount = fields["amount_fen"]
            paid_at = datetime.datetime.fromisoformat(fields["paid_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected(reason="malformed notification") from exc
        if fields.get("trade_status") != "PAID" or not isinstance(amount, int):
            raise NotificationRejected(reason="malformed notification")
        return TradeReport(
            out_trade_no=str(fields.get("out_trade_no", "")),
            state=TradeState.PAID,
            amount_fen=amount,
            trade_no=str(fields.get("trade_no", "")),
            paid_at=paid_at,
            raw=fields,
        )


def build() -> SandboxProvider | None:
    return SandboxProvider() if conf.sandbox_enabled() else None
