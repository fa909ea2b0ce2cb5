"""Every write the payments app makes.

Two rules hold throughout:
- A payment becomes paid only through `record_payment_paid`, fed by a verified notification or
  an active provider query, never by the browser. It is one conditional UPDATE under a row lock,
  so repeated and concurrent notifications settle once and `payment_succeeded` fires once.
- Provider calls happen outside our write transactions (refunds on commit), so a provider that
  fails or is slow can never roll back a settled payment.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Sum, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments import conf, selectors
from payments.errors import (
    InvalidAmount,
    NotificationRejected,
    OrderAlreadyPaid,
    PaymentExpired,
    ProviderError,
    ProviderUnavailable,
    UnsupportedMethod,
)
from payments.models import PROVIDER_METHODS, Payment, Provider, Refund
from payments.providers import get_provider
from payments.providers.base import IncomingNotification, RefundReport, RefundState, TradeReport, TradeState
from payments.providers.sandbox import page_token
from payments.signals import payment_succeeded, refund_succeeded

logger = logging.getLogger(__name__)

PAYABLE = (Payment.Status.CREATED, Payment.Status.CLOSED)
DUPLICATE_PAYMENT_REASON = _("重复支付，自动退款")


@dataclass(frozen=True)
class PaymentStart:
    payment: Payment
    redirect_url: str = ""
    code_url: str = ""


def _transition(model, pk: int, *, to: str, from_: tuple[str, ...], **fields) -> bool:
    """One conditional UPDATE `from_ -> to`; the row count says whether this call made the move.

    Only moves listed in the model's TRANSITIONS are allowed.
    """
    illegal = set(from_) - model.TRANSITIONS[to]
    if illegal:
        raise ValueError(f"{model.__name__}: {sorted(illegal)} -> {to} is not a legal move")
    fields.setdefault("updated_at", timezone.now())
    return model.objects.filter(pk=pk, status__in=from_).update(status=to, **fields) == 1


# Starting a payment ----------------------------------------------------------------------------


def start_payment(
    *,
    order_no: str,
    amount_fen: int,
    subject: str,
    provider: str,
    method: str,
    expires_at: datetime.datetime,
    client_ip: str = "",
    return_url: str = "",
    charge: str = "",
) -> PaymentStart:
    """Open (or reuse the open) payment of an order through one provider and say where the payer goes next.

    `charge` names a supplement owed on the order (a 改约's fee difference); empty is the order's
    own amount. Each charge is paid once, through attempts with their own `out_trade_no`.
    """
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidAmount()
    if not order_no or len(order_no) > 32:
        raise ValueError("order_no must be 1 to 32 characters")
    if len(charge) > Payment._meta.get_field("charge").max_length:
        raise ValueError("charge is too long")
    if provider not in PROVIDER_METHODS:
        raise ProviderUnavailable()
    if method not in PROVIDER_METHODS[provider]:
        raise UnsupportedMethod()
    if expires_at <= timezone.now():
        raise PaymentExpired()
    channel = get_provider(provider)
    payment = _open_payment(
        order_no=order_no,
        amount_fen=amount_fen,
        subject=subject[:127] or order_no,
        provider=provider,
        method=method,
        expires_at=expires_at,
        client_ip=client_ip or None,
        return_url=return_url,
        charge=charge,
    )
    started = channel.start(
        payment,
        notify_url=conf.absolute_url(f"payments:notify_{provider}") if provider != Provider.SANDBOX else "",
        return_url=conf.absolute_url("payments:return_page", token=page_token(payment.pk)),
    )
    return PaymentStart(payment=payment, redirect_url=started.redirect_url, code_url=started.code_url)


@transaction.atomic
def _open_payment(*, order_no, amount_fen, provider, method, charge, **fields) -> Payment:
    if selectors.charge_was_paid(order_no=order_no, charge=charge):
        raise OrderAlreadyPaid()
    channel = {
        "order_no": order_no,
        "charge": charge,
        "provider": provider,
        "method": method,
        "status": Payment.Status.CREATED,
    }
    existing = Payment.objects.filter(**channel).first()
    if existing is None:
        try:
            with transaction.atomic():
                return Payment.objects.create(amount_fen=amount_fen, **channel, **fields)
        except IntegrityError:
            # A concurrent request opened the same channel first: use its payment.
            existing = Payment.objects.get(**channel)
    if existing.amount_fen != amount_fen:
        raise InvalidAmount()
    return existing


# Settling: notifications and active queries ----------------------------------------------------


def receive_payment_notification(*, provider: str, incoming: IncomingNotification) -> Payment:
    """Verify a provider's payment notification and apply it once; NotificationRejected changes nothing."""
    report = get_provider(provider).parse_payment_notification(incoming)
    payment = Payment.objects.filter(out_trade_no=report.out_trade_no, provider=provider).first()
    if payment is None:
        raise NotificationRejected(reason="unknown out_trade_no")
    if report.amount_fen != payment.amount_fen:
        logger.error(
            "Notification for %s claims %s fen, we asked for %s",
            payment.out_trade_no,
            report.amount_fen,
            payment.amount_fen,
        )
        raise NotificationRejected(reason="amount mismatch")
    _apply_trade_report(payment=payment, report=report)
    payment.refresh_from_db()
    return payment


def _apply_trade_report(*, payment: Payment, report: TradeReport) -> bool:
    """Returns True when this report made the payment paid."""
    if report.state is TradeState.PAID:
        return record_payment_paid(payment=payment, report=report)
    if report.state is TradeState.CLOSED:
        _mark_closed(payment=payment)
    return False


@transaction.atomic
def record_payment_paid(*, payment: Payment, report: TradeReport) -> bool:
    """The one path to "paid". Returns True for the call that made it so (and sent the signal).

    The row lock serialises duplicates of one payment; the partial unique index
    `payments_payment_one_paid_per_charge` catches a second payment of the same charge of an order
    (for example one attempt by Alipay and one by WeChat), which is then refunded automatically.
    A supplement (another `charge` of the order) is no duplicate: it is money the order owes too.
    """
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.paid_at is not None:
        return False
    now = timezone.now()
    fields = {
        "paid_at": report.paid_at or now,
        "provider_trade_no": report.trade_no[:64],
        "notification": report.raw or None,
    }
    # Another payment of this charge already took the money (it may be refunding or refunded by
    # now, so the unique index on status "paid" no longer sees it): this one is a duplicate.
    duplicate = (
        selectors.payments_of(order_no=locked.order_no)
        .filter(charge=locked.charge, paid_at__isnull=False)
        .exclude(pk=locked.pk)
        .exists()
    )
    won = False
    if not duplicate:
        try:
            with transaction.atomic():
                won = _transition(Payment, locked.pk, to=Payment.Status.PAID, from_=PAYABLE, **fields)
        except IntegrityError:
            duplicate = True  # another payment of the order became "paid" at the same moment
    if duplicate:
        _transition(Payment, locked.pk, to=Payment.Status.REFUNDING, from_=PAYABLE, **fields)
        Payment.objects.filter(pk=locked.pk).update(refund_reserved_fen=locked.amount_fen)
        refund = Refund.objects.create(payment=locked, amount_fen=locked.amount_fen, reason=DUPLICATE_PAYMENT_REASON)
        logger.warning("Order %s paid twice; refunding %s automatically", locked.order_no, locked.out_trade_no)
        _submit_on_commit(refund)
        return False
    if not won:
        return False
    locked.refresh_from_db()
    payment_succeeded.send(sender=Payment, payment=locked)
    if selectors.open_payments_of(order_no=locked.order_no, charge=locked.charge).exists():
        # The payer had opened other attempts (another provider or method): close them now, so no
        # second payment can arrive; one that was paid meanwhile is settled as a duplicate and refunded.
        from payments.tasks import settle_or_close_order

        order_no, charge = locked.order_no, locked.charge
        transaction.on_commit(lambda: settle_or_close_order.delay(order_no, charge), robust=True)
    return True


def _mark_closed(*, payment: Payment) -> bool:
    return _transition(
        Payment, payment.pk, to=Payment.Status.CLOSED, from_=(Payment.Status.CREATED,), closed_at=timezone.now()
    )


def _settle_from_query(*, payment: Payment, report: TradeReport) -> bool:
    if report.amount_fen != payment.amount_fen:  # an answer without the amount settles nothing
        logger.error("Provider reports %s fen paid for %s, expected %s", report.amount_fen, payment, payment.amount_fen)
        raise ProviderError()
    return record_payment_paid(payment=payment, report=report)


def query_and_sync(*, payment: Payment) -> Payment:
    """Ask the provider about a payment holding no money here and bring our row in line.

    Used by the return page and reconciliation; a payment we closed is asked about too, since the
    provider may have taken the money after all (it is then settled, and booking refunds it).
    """
    if payment.status in PAYABLE:
        report = get_provider(payment.provider).query(payment)
        if report.state is TradeState.PAID:
            _settle_from_query(payment=payment, report=report)
        elif report.state is TradeState.CLOSED:
            _mark_closed(payment=payment)
    elif payment.status == Payment.Status.REFUNDING:
        for refund in payment.refunds.filter(status__in=Refund.IN_FLIGHT_STATUSES):
            refresh_refund(refund_id=refund.pk)
    payment.refresh_from_db()
    return payment


def settle_or_close(*, order_no: str, charge: str | None = None) -> bool:
    """At a payment deadline: settle what was in fact paid, close the rest at the provider.

    Every charge of the order, or only `charge`. Returns True when that charge (by default the
    order's own amount) is paid after the call. Safe to repeat. Raises ProviderError (nothing
    closed) when a provider cannot tell us whether it was paid.
    """
    for payment in selectors.open_payments_of(order_no=order_no, charge=charge):
        try:
            channel = get_provider(payment.provider)
        except ProviderUnavailable:
            if payment.provider != Provider.SANDBOX:
                raise
            _mark_closed(payment=payment)  # the switched-off sandbox holds no money
            continue
        report = channel.query(payment)
        if report.state is TradeState.PAID:
            _settle_from_query(payment=payment, report=report)
            continue
        if report.state is TradeState.CLOSED:
            # The provider closed it already (Alipay at our time_expire, or an earlier close whose
            # answer was lost): closing again would be refused, so just record it.
            _mark_closed(payment=payment)
            continue
        if channel.close(payment) is TradeState.PAID:
            # The close was refused as "not open any more": paid between our query and the close,
            # or closed in that instant. Ask once more and follow the answer.
            report = channel.query(payment)
            if report.state is TradeState.PAID:
                _settle_from_query(payment=payment, report=report)
                continue
            if report.state is not TradeState.CLOSED:
                raise ProviderError()
        _mark_closed(payment=payment)
    return selectors.paid_payment_of(order_no=order_no, charge=charge or "") is not None


# Refunds -----------------------------------------------------------------------------------------


def request_refund(
    *, order_no: str, reason: str, amount_fen: int | None = None, charge: str | None = None
) -> Refund | None:
    """Refund the order's money: `amount_fen` of it, or by default all that is left.

    The order's money may sit in several payments (its own amount and supplements such as a
    改约's fee difference): a full refund returns what is left of each, a partial one is spread
    over them; `charge` narrows it to one charge. Returns the last refund opened.

    A payment may be refunded in several parts; their sum never exceeds what was paid (the
    payment rows are locked and `refund_reserved_fen` is raised by one conditional UPDATE under a
    check constraint), and InvalidAmount refuses more. Asking for the rest when nothing is left
    opens nothing and submits again what is still pending, so a repeated full refund refunds once.

    The provider is called after the surrounding transaction commits (immediately when there is
    none), so this is safe inside a `payment_succeeded` receiver: a provider failure leaves the
    refund pending for `sweep_processing_refunds`, and never undoes the payment.
    """
    if amount_fen is not None and (not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0):
        raise InvalidAmount()
    refunds = _open_refunds(order_no=order_no, reason=reason, amount_fen=amount_fen, charge=charge)
    if not refunds:  # nothing left to give back: ask again for what has not reached the provider
        refunds = Refund.objects.filter(payment__order_no=order_no, status=Refund.Status.PENDING)
        if charge is not None:
            refunds = refunds.filter(payment__charge=charge)
        refunds = list(refunds.order_by("pk"))
    for refund in refunds:
        if refund.status == Refund.Status.PENDING:
            _submit_on_commit(refund)
    if not refunds:
        return selectors.latest_refund_of(order_no=order_no)
    refund = refunds[-1]
    refund.refresh_from_db()
    return refund


@transaction.atomic
def _open_refunds(*, order_no: str, reason: str, amount_fen: int | None, charge: str | None) -> list[Refund]:
    payments = Payment.objects.select_for_update().filter(
        order_no=order_no, status__in=Payment.HELD_STATUSES, refund_reserved_fen__lt=F("amount_fen")
    )
    if charge is not None:
        payments = payments.filter(charge=charge)
    payments = list(payments.order_by(Case(When(status=Payment.Status.PAID, then=0), default=1), "pk"))
    if amount_fen is not None and amount_fen > sum(payment.refundable_fen for payment in payments):
        raise InvalidAmount()  # more than is held: nothing paid, or refunded or being refunded already
    left = amount_fen
    refunds = []
    for payment in payments:
        amount = payment.refundable_fen if left is None else min(left, payment.refundable_fen)
        reserved = Payment.objects.filter(pk=payment.pk, refund_reserved_fen__lte=payment.amount_fen - amount).update(
            refund_reserved_fen=F("refund_reserved_fen") + amount, updated_at=timezone.now()
        )
        if not reserved:
            raise InvalidAmount()
        _transition(Payment, payment.pk, to=Payment.Status.REFUNDING, from_=Payment.HELD_STATUSES)
        refunds.append(Refund.objects.create(payment=payment, amount_fen=amount, reason=str(reason)[:80]))
        if left is not None:
            left -= amount
            if left == 0:
                break
    return refunds


def _settle_refunding(payment_id: int) -> None:
    """After a refund became final (the payment row locked): `refunded` once the refunds cover the
    whole amount, `paid` again when no refund is in flight and part of the money is still held."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != Payment.Status.REFUNDING:
        return
    if payment.refunds.filter(status__in=Refund.IN_FLIGHT_STATUSES).exists():
        return
    refunded = payment.refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount_fen"))["total"] or 0
    if refunded >= payment.amount_fen:
        _transition(Payment, payment_id, to=Payment.Status.REFUNDED, from_=(Payment.Status.REFUNDING,))
        return
    try:
        with transaction.atomic():
            # Money is still with us: the payment is paid again and may be refunded (further).
            _transition(Payment, payment_id, to=Payment.Status.PAID, from_=(Payment.Status.REFUNDING,))
    except IntegrityError:
        logger.error("Refund of duplicate payment %s is incomplete; it needs a manual refund", payment_id)


def _submit_on_commit(refund: Refund) -> None:
    transaction.on_commit(partial(_submit_quietly, refund.pk), robust=True)


def _submit_quietly(refund_id: int) -> None:
    try:
        submit_refund(refund_id=refund_id)
    except (ProviderError, ProviderUnavailable) as exc:
        logger.warning("Refund %s not submitted yet (%s); the sweep will retry", refund_id, exc.code)


def submit_refund(*, refund_id: int) -> Refund:
    """Send a pending refund to its provider (same refund number every time) and apply the answer."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    try:
        report = get_provider(refund.payment.provider).refund(refund)
    except (ProviderError, ProviderUnavailable) as exc:
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            last_error=str(exc.detail)[:255], updated_at=timezone.now()
        )
        raise
    return _apply_refund_report(refund=refund, report=report)


def refresh_refund(*, refund_id: int) -> Refund:
    """Bring an in-flight refund up to date: submit it if it never reached the provider, else query it."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status == Refund.Status.PENDING:
        return submit_refund(refund_id=refund.pk)
    if refund.status != Refund.Status.PROCESSING:
        return refund
    report = get_provider(refund.payment.provider).query_refund(refund)
    if report.state is RefundState.NOT_FOUND:
        _transition(Refund, refund.pk, to=Refund.Status.PENDING, from_=(Refund.Status.PROCESSING,))
        return submit_refund(refund_id=refund.pk)
    return _apply_refund_report(refund=refund, report=report)


def receive_refund_notification(*, provider: str, incoming: IncomingNotification) -> Refund:
    report = get_provider(provider).parse_refund_notification(incoming)
    refund = (
        Refund.objects.select_related("payment").filter(refund_no=report.refund_no, payment__provider=provider).first()
    )
    if refund is None:
        raise NotificationRejected(reason="unknown out_refund_no")
    if report.out_trade_no and report.out_trade_no != refund.payment.out_trade_no:
        raise NotificationRejected(reason="out_trade_no mismatch")
    if report.amount_fen != refund.amount_fen:
        raise NotificationRejected(reason="amount mismatch")
    return _apply_refund_report(refund=refund, report=report)


def _apply_refund_report(*, refund: Refund, report: RefundReport) -> Refund:
    if report.amount_fen is not None and report.amount_fen != refund.amount_fen:
        logger.error("Provider reports %s fen for refund %s of %s", report.amount_fen, refund, refund.amount_fen)
        raise ProviderError()
    if report.state is RefundState.SUCCEEDED:
        _mark_refund_succeeded(refund=refund, report=report)
    elif report.state is RefundState.PROCESSING:
        _transition(
            Refund,
            refund.pk,
            to=Refund.Status.PROCESSING,
            from_=(Refund.Status.PENDING,),
            provider_refund_id=report.provider_refund_id[:64],
            raw=report.raw or None,
            last_error="",
        )
    elif report.state is RefundState.FAILED:
        _mark_refund_failed(refund=refund, report=report)
    refund.refresh_from_db()
    return refund


@transaction.atomic
def _mark_refund_succeeded(*, refund: Refund, report: RefundReport) -> bool:
    # Lock order: payment, then refund (the same as _open_refunds).
    Payment.objects.select_for_update().get(pk=refund.payment_id)
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    now = timezone.now()
    won = _transition(
        Refund,
        locked.pk,
        to=Refund.Status.SUCCEEDED,
        from_=Refund.IN_FLIGHT_STATUSES,
        provider_refund_id=report.provider_refund_id[:64] or locked.provider_refund_id,
        raw=report.raw or locked.raw,
        last_error="",
        succeeded_at=now,
    )
    if not won:
        return False
    _settle_refunding(locked.payment_id)
    locked.refresh_from_db()
    refund_succeeded.send(sender=Refund, refund=locked)
    return True


@transaction.atomic
def _mark_refund_failed(*, refund: Refund, report: RefundReport) -> bool:
    Payment.objects.select_for_update().get(pk=refund.payment_id)
    won = _transition(
        Refund,
        refund.pk,
        to=Refund.Status.FAILED,
        from_=Refund.IN_FLIGHT_STATUSES,
        last_error=report.error[:255],
        raw=report.raw or None,
    )
    if not won:
        return False
    logger.error("Refund %s failed at the provider: %s", refund.refund_no, report.error)
    # The failed amount may be asked for again.
    Payment.objects.filter(pk=refund.payment_id).update(
        refund_reserved_fen=F("refund_reserved_fen") - refund.amount_fen, updated_at=timezone.now()
    )
    _settle_refunding(refund.payment_id)
    return True


# Reconciliation ----------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    day: datetime.date
    checked: int = 0
    still_open: int = 0
    settled: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    refunds_checked: int = 0
    refunds_succeeded: list[str] = field(default_factory=list)
    refunds_failed: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def reconcile_day(*, day: datetime.date) -> ReconcileReport:
    """Query the provider for every payment created on a local day that is not final, and repair ours."""
    report = ReconcileReport(day=day)
    for payment in selectors.unsettled_payments_created_on(day=day):
        report.checked += 1
        was_closed = payment.status == Payment.Status.CLOSED
        try:
            synced = query_and_sync(payment=payment)
        except (ProviderError, ProviderUnavailable) as exc:
            report.errors.append((payment.order_no, f"{payment.out_trade_no}: {exc.detail}"))
            continue
        if synced.status == Payment.Status.PAID:
            report.settled.append(f"{payment.order_no} ({payment.out_trade_no}, {payment.get_provider_display()})")
        elif synced.status == Payment.Status.CLOSED:
            if not was_closed:
                report.closed.append(f"{payment.order_no} ({payment.out_trade_no})")
        else:
            report.still_open += 1
    for refund in selectors.refunds_in_flight(created_on=day):
        report.refunds_checked += 1
        try:
            synced = refresh_refund(refund_id=refund.pk)
        except (ProviderError, ProviderUnavailable) as exc:
            report.errors.append((refund.payment.order_no, f"{refund.refund_no}: {exc.detail}"))
            continue
        if synced.status == Refund.Status.SUCCEEDED:
            report.refunds_succeeded.append(f"{refund.payment.order_no} ({refund.refund_no})")
        elif synced.status == Refund.Status.FAILED:
            report.refunds_failed.append(f"{refund.payment.order_no} ({refund.refund_no}: {synced.last_error})")
    return report


def record_offline_payment(*, order_no: str, amount_fen: int, method: str, taken_by, taken_at: datetime.datetime):
    """Record money taken at the window. One per order: a second attempt is refused by the unique order_no."""
    from payments.models import OfflinePayment

    if method not in OfflinePayment.Method.values:
        raise ValueError(f"unknown offline payment method {method!r}")
    try:
        with transaction.atomic():
            return OfflinePayment.objects.create(
                order_no=order_no, amount_fen=amount_fen, method=method, taken_by=taken_by, taken_at=taken_at
            )
    except IntegrityError as exc:
        raise OrderAlreadyPaid() from exc
