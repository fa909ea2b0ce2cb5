"""The small interface every payment provider implements, and the facts it reports back.

Providers translate; they never write to the database. Services decide what a report means for
our rows (payments/services.py).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from payments.models import Payment, Refund


class TradeState(enum.Enum):
    PAID = "paid"  # money was collected (also when it was refunded since)
    OPEN = "open"  # waiting for the payer
    CLOSED = "closed"  # closed unpaid; can no longer be paid
    NOT_FOUND = "not_found"  # the provider has no such trade (payer never opened the page)


class RefundState(enum.Enum):
    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    FAILED = "failed"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class TradeReport:
    """What a provider says about one of our trades, from a verified notification or an active query."""

    out_trade_no: str
    state: TradeState
    amount_fen: int | None = None
    trade_no: str = ""
    paid_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundReport:
    refund_no: str
    state: RefundState
    amount_fen: int | None = None
    out_trade_no: str = ""
    provider_refund_id: str = ""
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StartedTrade:
    redirect_url: str = ""
    code_url: str = ""


@dataclass(frozen=True)
class IncomingNotification:
    """An HTTP notification as received: headers, raw body and (for form posts) the fields."""

    headers: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, str] = field(default_factory=dict)


class PaymentProvider:
    name: str = ""

    def start(self, payment: Payment, *, notify_url: str, return_url: str) -> StartedTrade:
        raise NotImplementedError

    def query(self, payment: Payment) -> TradeReport:
        raise NotImplementedError

    def close(self, payment: Payment) -> TradeState:
        """Close the trade at the provider. Returns CLOSED, or PAID when it cannot be closed because it was paid."""
        raise NotImplementedError

    def refund(self, refund: Refund) -> RefundReport:
        """Ask for `refund.amount_fen` back under `refund.refund_no`; asking again with the same number refunds once."""
        raise NotImplementedError

    def query_refund(self, refund: Refund) -> RefundReport:
        raise NotImplementedError

    def parse_payment_notification(self, incoming: IncomingNotification) -> TradeReport:
        """Verify the provider's signature and our own ids; raise NotificationRejected otherwise."""
        raise NotImplementedError

    def parse_refund_notification(self, incoming: IncomingNotification) -> RefundReport:
        raise NotImplementedError
