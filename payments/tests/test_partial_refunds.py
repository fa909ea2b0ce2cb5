"""A payment refunded in parts: each refund its own request number, their sum never above the amount."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from payments import services
from payments.errors import InvalidAmount
from payments.models import Method, Payment, Provider, Refund
from payments.providers.base import RefundReport, RefundState
from payments.providers.sandbox import build_paid_notification
from payments.tests.test_services import in_minutes, settle, start


def _refund(django_capture_on_commit_callbacks, order_no, amount_fen=None):
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.request_refund(order_no=order_no, reason="改约差价", amount_fen=amount_fen)
    refund.refresh_from_db()
    return refund


@pytest.mark.django_db
def test_alipay_partial_then_the_rest(alipay, client, refunded_signals, django_capture_on_commit_callbacks):
    payment = start().payment  # 12.50
    settle(payment, client, alipay)

    part = _refund(django_capture_on_commit_callbacks, payment.order_no, 300)
    payment.refresh_from_db()
    assert part.status == Refund.Status.SUCCEEDED and part.amount_fen == 300
    assert payment.status == Payment.Status.PAID and payment.refundable_fen == 950  # partly refunded stays paid

    rest = _refund(django_capture_on_commit_callbacks, payment.order_no)
    again = _refund(django_capture_on_commit_callbacks, payment.order_no)
    payment.refresh_from_db()
    assert rest.amount_fen == 950 and rest.status == Refund.Status.SUCCEEDED
    assert again.pk == rest.pk  # nothing left: asking again refunds nothing more
    assert payment.status == Payment.Status.REFUNDED and payment.refundable_fen == 0
    calls = [biz for method, biz in alipay.calls if method == "alipay.trade.refund"]
    assert [c["refund_amount"] for c in calls] == ["3.00", "9.50"]
    assert [c["out_request_no"] for c in calls] == [part.refund_no, rest.refund_no] and part.refund_no != rest.refund_no
    assert refunded_signals.received == [part, rest]


@pytest.mark.django_db
def test_wechat_partial_refund_sends_its_own_number_and_the_total(
    wechat, client, refunded_signals, django_capture_on_commit_callbacks
):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    settle(payment, client, wechat)
    first = _refund(django_capture_on_commit_callbacks, payment.order_no, 200)
    second = _refund(django_capture_on_commit_callbacks, payment.order_no, 100)
    bodies = [body for method, path, body in wechat.requests if path == "/v3/refund/domestic/refunds"]
    assert [b["amount"] for b in bodies] == [
        {"refund": 200, "total": 1250, "currency": "CNY"},
        {"refund": 100, "total": 1250, "currency": "CNY"},
    ]
    assert [b["out_refund_no"] for b in bodies] == [first.refund_no, second.refund_no]
    assert first.refund_no != second.refund_no
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDING and payment.refund_reserved_fen == 300


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [1251, 0, -5, True])
def test_more_than_what_is_left_is_refused_and_writes_nothing(
    alipay, client, amount, django_capture_on_commit_callbacks
):
    payment = start().payment
    settle(payment, client, alipay)
    _refund(django_capture_on_commit_callbacks, payment.order_no, 1000)
    with pytest.raises(InvalidAmount):
        services.request_refund(order_no=payment.order_no, reason="x", amount_fen=amount if amount != 1251 else 251)
    payment.refresh_from_db()
    assert Refund.objects.count() == 1 and payment.refund_reserved_fen == 1000


@pytest.mark.django_db
def test_a_partial_refund_of_an_unpaid_order_is_refused(alipay):
    payment = start().payment
    with pytest.raises(InvalidAmount):
        services.request_refund(order_no=payment.order_no, reason="x", amount_fen=100)
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_a_failed_partial_refund_gives_its_amount_back_to_refund(alipay, client):
    payment = start().payment
    settle(payment, client, alipay)
    refund = services.request_refund(order_no=payment.order_no, reason="x", amount_fen=1000)  # not submitted yet
    services._apply_refund_report(
        refund=refund, report=RefundReport(refund_no=refund.refund_no, state=RefundState.FAILED, error="closed")
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID and payment.refund_reserved_fen == 0
    assert services.request_refund(order_no=payment.order_no, reason="x", amount_fen=1250).amount_fen == 1250


@pytest.mark.django_db
def test_the_database_refuses_refunds_above_the_amount():
    from payments.tests.factories import PaymentFactory

    payment = PaymentFactory(status=Payment.Status.PAID)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refund_reserved_fen=payment.amount_fen + 1)


def _paid_sandbox_payment():
    payment = services.start_payment(
        order_no="GHRACE0001",
        amount_fen=1000,
        subject="挂号费",
        provider=Provider.SANDBOX,
        method=Method.PAGE,
        expires_at=in_minutes(10),
    ).payment
    services.receive_payment_notification(provider=Provider.SANDBOX, incoming=build_paid_notification(payment))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    return payment


def _race(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, amount_fen):
        try:
            barrier.wait()
            results[i] = services.request_refund(order_no="GHRACE0001", reason="race", amount_fen=amount_fen)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, amount)) for i, amount in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("amounts", [[700, 700], [None, None], [600, None], [400, 400, 400]])
def test_racing_refunds_never_exceed_the_amount(sandbox, amounts):
    payment = _paid_sandbox_payment()
    results = _race(amounts)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, InvalidAmount)]
    refunds = Refund.objects.filter(payment=payment).exclude(status=Refund.Status.FAILED)
    total = sum(refunds.values_list("amount_fen", flat=True))
    payment.refresh_from_db()
    assert total <= payment.amount_fen and payment.refund_reserved_fen == total
    if amounts == [None, None]:
        assert refunds.count() == 1 and total == 1000  # one full refund, the other call returns it
    if amounts == [400, 400, 400]:
        assert refunds.count() == 2 and total == 800
    if amounts == [700, 700]:
        assert refunds.count() == 1 and total == 700
