"""Money in equals money out plus refunds, whatever order pay / duplicate notify / full or partial refund /
close arrive in."""

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
operations = st.lists(
    st.tuples(
        st.sampled_from(["start", "notify", "notify_again", "refund", "refund_part", "close"]),
        st.integers(min_value=0, max_value=ORDERS - 1),
        st.sampled_from([Provider.SANDBOX, Provider.ALIPAY]),
        st.integers(min_value=1, max_value=250),  # a partial refund's amount, at times more than what is left
    ),
    max_size=25,
)


def latest_payment(order_no, provider):
    return Payment.objects.filter(order_no=order_no, provider=provider).order_by("-pk").first()


def open_payment(order_no, amount_fen, provider):
    method = Method.PAGE if provider == Provider.SANDBOX else Method.WAP
    return services.start_payment(
        order_no=order_no,
        amount_fen=amount_fen,
        subject="挂号费",
        provider=provider,
        method=method,
        expires_at=timezone.now() + datetime.timedelta(minutes=10),
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
    amounts = [100 * (i + 1) + 7 for i in range(ORDERS)]

    for action, index, provider, part_fen in ops:
        order_no = orders[index]
        try:
            with django_capture_on_commit_callbacks(execute=True):
                if action == "start":
                    open_payment(order_no, amounts[index], provider)
                elif action in ("notify", "notify_again"):
                    # The payer pays the latest attempt through this provider (opening one if there is none).
                    payment = latest_payment(order_no, provider) or open_payment(order_no, amounts[index], provider)
                    if payment is not None:
                        deliver_paid_notification(payment, alipay)
                        if action == "notify_again":
                            deliver_paid_notification(payment, alipay)
                elif action == "refund":
                    services.request_refund(order_no=order_no, reason="取消")
                elif action == "refund_part":
                    services.request_refund(order_no=order_no, reason="改约差价", amount_fen=part_fen)
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
        assert payments.filter(order_no=order_no, status=Payment.Status.PAID).count() <= 1

    signalled = Counter(p.pk for p in paid_signals.received if p.order_no in orders)
    assert all(times == 1 for times in signalled.values())
    assert set(signalled) <= set(payments.filter(paid_at__isnull=False).values_list("pk", flat=True))
    refund_signals = Counter(r.pk for r in refunded_signals.received if r.payment.order_no in orders)
    assert all(times == 1 for times in refund_signals.values())
    assert set(refund_signals) == set(refunds.filter(status=Refund.Status.SUCCEEDED).values_list("pk", flat=True))
