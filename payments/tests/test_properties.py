"""Money in equals money out plus refunds, whatever order pay / duplicate notify / full or partial refund /
close arrive in, for an order's own amount and a supplement charged on the same order (a 改约's
fee difference); refunding an order in full gives back every charge it holds."""

import datetime
import uuid
from collections import Counter

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from config.errors import DomainError
from payments import services
from payments.models import Method, Payment, Provider, Refund
from payments.providers.base import IncomingNotification
from payments.providers.sandbox import build_paid_notification

ORDERS = 2
CHARGES = ["", "move-1"]  # the order's own amount, and a supplement on the same order
operations = st.lists(
    st.tuples(
        st.sampled_from(["start", "notify", "notify_again", "refund", "refund_part", "close", "close_charge"]),
        st.integers(min_value=0, max_value=ORDERS - 1),
        st.sampled_from([Provider.SANDBOX, Provider.ALIPAY]),
        st.integers(min_value=1, max_value=400),  # a partial refund's amount, at times more than what is left
        st.sampled_from(CHARGES),
    ),
    max_size=25,
)


def latest_payment(order_no, provider, charge=""):
    return Payment.objects.filter(order_no=order_no, provider=provider, charge=charge).order_by("-pk").first()


def open_payment(order_no, amount_fen, provider, charge=""):
    method = Method.PAGE if provider == Provider.SANDBOX else Method.WAP
    return services.start_payment(
        order_no=order_no,
        amount_fen=amount_fen,
        subject="挂号费",
        provider=provider,
        method=method,
        expires_at=timezone.now() + datetime.timedelta(minutes=10),
        charge=charge,
    ).payment


def deliver_paid_notification(payment, alipay):
    if payment.provider == Provider.SANDBOX:
        incoming = build_paid_notification(payment)
    else:
        incoming = IncomingNotification(headers={}, form=alipay.notification(payment))
    services.receive_payment_notification(provider=payment.provider, incoming=incoming)


@pytest.mark.slow
@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_money_in_equals_money_out_plus_refunds(
    ops, sandbox, alipay, paid_signals, refunded_signals, django_capture_on_commit_callbacks
):
    prefix = uuid.uuid4().hex[:8].upper()
    orders = [f"{prefix}-{i}" for i in range(ORDERS)]
    amounts = {(i, charge): 100 * (i + 1) + 7 + (50 if charge else 0) for i in range(ORDERS) for charge in CHARGES}

    for action, index, provider, part_fen, charge in ops:
        order_no = orders[index]
        amount = amounts[index, charge]
        try:
            with django_capture_on_commit_callbacks(execute=True):
                if action == "start":
                    open_payment(order_no, amount, provider, charge)
                elif action in ("notify", "notify_again"):
                    # The payer pays the latest attempt through this provider (opening one if there is none).
                    payment = latest_payment(order_no, provider, charge) or open_payment(
                        order_no, amount, provider, charge
                    )
                    if payment is not None:
                        deliver_paid_notification(payment, alipay)
                        if action == "notify_again":
                            deliver_paid_notification(payment, alipay)
                elif action == "refund":
                    services.request_refund(order_no=order_no, reason="取消")
                elif action == "refund_part":
                    services.request_refund(order_no=order_no, reason="改约差价", amount_fen=part_fen)
                elif action == "close_charge":
                    services.settle_or_close(order_no=order_no, charge=charge)
                else:
                    services.settle_or_close(order_no=order_no)
        except DomainError:
            pass  # refused operations (already paid, ...) must leave the books balanced too

    payments = Payment.objects.filter(order_no__in=orders)
    refunds = Refund.objects.filter(payment__in=payments)
    paid_in = payments.filter(paid_at__isnull=False).aggregate(total=Sum("amount_fen"))["total"] or 0
    refunded = refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount_fen"))["total"] or 0
    held_payments = payments.filter(status__in=Payment.HELD_STATUSES)
    held = sum(
        p.amount_fen - sum(r.amount_fen for r in p.refunds.all() if r.status == Refund.Status.SUCCEEDED)
        for p in held_payments
    )
    assert paid_in - refunded == held
    event(f"payments paid: {min(payments.filter(paid_at__isnull=False).count(), 3)}")
    event(f"refunds succeeded: {min(refunds.filter(status=Refund.Status.SUCCEEDED).count(), 2)}")
    event(
        f"partly refunded and still paid: {payments.filter(status=Payment.Status.PAID, refunds__isnull=False).exists()}"
    )
    event(f"duplicate payments: {refunds.filter(reason=services.DUPLICATE_PAYMENT_REASON).exists()}")

    for payment in payments:
        succeeded = sum(r.amount_fen for r in payment.refunds.all() if r.status == Refund.Status.SUCCEEDED)
        reserved = sum(r.amount_fen for r in payment.refunds.all() if r.status != Refund.Status.FAILED)
        assert succeeded <= reserved == payment.refund_reserved_fen <= payment.amount_fen
        if payment.status == Payment.Status.REFUNDED:
            assert succeeded == payment.amount_fen
        if payment.status == Payment.Status.PAID:
            assert succeeded < payment.amount_fen  # partly refunded stays paid
        if payment.paid_at is None:
            assert reserved == 0
        if payment.status in (Payment.Status.CREATED, Payment.Status.CLOSED):
            assert payment.paid_at is None
    for order_no in orders:
        for charge in CHARGES:
            assert payments.filter(order_no=order_no, charge=charge, status=Payment.Status.PAID).count() <= 1

    signalled = Counter(p.pk for p in paid_signals.received if p.order_no in orders)
    assert all(times == 1 for times in signalled.values())
    assert set(signalled) <= set(payments.filter(paid_at__isnull=False).values_list("pk", flat=True))
    refund_signals = Counter(r.pk for r in refunded_signals.received if r.payment.order_no in orders)
    assert all(times == 1 for times in refund_signals.values())
    assert set(refund_signals) == set(refunds.filter(status=Refund.Status.SUCCEEDED).values_list("pk", flat=True))

    # Cancelling the order: one full refund gives back what is left of every charge, once.
    for order_no in orders:
        with django_capture_on_commit_callbacks(execute=True):
            services.request_refund(order_no=order_no, reason="取消")
            services.request_refund(order_no=order_no, reason="取消")  # asked again: nothing more
    paid_in = payments.filter(paid_at__isnull=False).aggregate(total=Sum("amount_fen"))["total"] or 0
    refunded = refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount_fen"))["total"] or 0
    assert paid_in == refunded
    assert not payments.filter(status__in=Payment.HELD_STATUSES).exists()
