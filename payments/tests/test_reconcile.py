import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import Method, Payment, Provider, Refund

DAY = datetime.date(2026, 1, 5)


def start(order_no, provider, method):
    return services.start_payment(
        order_no=order_no,
        amount_fen=3000,
        subject="专家门诊挂号费",
        provider=provider,
        method=method,
        expires_at=timezone.now() + datetime.timedelta(minutes=10),
    ).payment


def created_on(payment, day, hour=10):
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
    Payment.objects.filter(pk=payment.pk).update(created_at=moment)


def run(day: str) -> str:
    out = StringIO()
    call_command("reconcile_payments", "--date", day, stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.django_db
def test_reconcile_repairs_the_day_and_reports_each_order(
    alipay, wechat, client, paid_signals, refunded_signals, django_capture_on_commit_callbacks
):
    lost_notification = start("GH-LOST", Provider.ALIPAY, Method.WAP)
    alipay.buyer_pays(lost_notification)
    closed_there = start("GH-CLOSED", Provider.WECHAT, Method.NATIVE)
    wechat.trades[closed_there.out_trade_no]["trade_state"] = "CLOSED"
    waiting = start("GH-WAITING", Provider.ALIPAY, Method.PAGE)
    alipay.buyer_opens(waiting)
    refunding = start("GH-REFUND", Provider.WECHAT, Method.NATIVE)
    body, headers = wechat.notification(refunding)
    client.post(reverse("payments:notify_wechat"), data=body, content_type="application/json", headers=headers)
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.request_refund(order_no="GH-REFUND", reason="停诊")
    wechat.refunds[refund.refund_no]["status"] = "SUCCESS"
    other_day = start("GH-OTHER-DAY", Provider.ALIPAY, Method.WAP)
    alipay.buyer_pays(other_day)
    # Midnight boundaries are local (Asia/Shanghai): 00:30 on the 6th belongs to the 6th.
    for payment in (lost_notification, closed_there, waiting, refunding):
        created_on(payment, DAY)
    created_on(other_day, DAY + datetime.timedelta(days=1), hour=0)
    signals_before = paid_signals.count

    report = run("2026-01-05")

    assert "payments checked: 3" in report
    assert "settled (paid at provider, missing here): 1" in report
    assert f"paid    GH-LOST ({lost_notification.out_trade_no}, 支付宝)" in report
    assert "closed (closed at provider): 1" in report
    assert f"closed  GH-CLOSED ({closed_there.out_trade_no})" in report
    assert "still waiting for the payer: 1" in report
    assert "refunds completed: 1" in report
    assert f"refunded GH-REFUND ({refund.refund_no})" in report
    assert "errors: 0" in report
    assert "Repaired 3, errors 0." in report

    assert Payment.objects.get(order_no="GH-LOST").status == Payment.Status.PAID
    assert Payment.objects.get(order_no="GH-CLOSED").status == Payment.Status.CLOSED
    assert Payment.objects.get(order_no="GH-WAITING").status == Payment.Status.CREATED
    assert Payment.objects.get(order_no="GH-REFUND").status == Payment.Status.REFUNDED
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED
    assert Payment.objects.get(order_no="GH-OTHER-DAY").status == Payment.Status.CREATED
    assert paid_signals.count == signals_before + 1
    assert refunded_signals.count == 1

    again = run("2026-01-05")
    assert "payments checked: 2" in again  # the one still waiting, and the one closed here (asked again)
    assert "Repaired 0, errors 0." in again
    assert paid_signals.count == signals_before + 1


@pytest.mark.django_db
def test_reconcile_finds_money_taken_after_our_close(alipay, paid_signals):
    """An Alipay trade closed here before it existed at Alipay can still be paid on the old page;
    if that notification is lost, reconciliation finds the money and settles it (booking refunds it)."""
    closed_here = start("GH-LATE", Provider.ALIPAY, Method.WAP)
    assert services.settle_or_close(order_no="GH-LATE") is False
    closed_here.refresh_from_db()
    assert closed_here.status == Payment.Status.CLOSED
    alipay.buyer_pays(closed_here)
    created_on(closed_here, DAY)

    report = run("2026-01-05")

    assert f"paid    GH-LATE ({closed_here.out_trade_no}, 支付宝)" in report
    assert Payment.objects.get(order_no="GH-LATE").status == Payment.Status.PAID
    assert paid_signals.count == 1


@pytest.mark.django_db
def test_reconcile_reports_provider_errors_and_changes_nothing(alipay):
    payment = start("GH-DOWN", Provider.ALIPAY, Method.WAP)
    created_on(payment, DAY)
    alipay.fail_with = OSError("connection refused")

    report = run("2026-01-05")

    assert "errors: 1" in report
    assert "GH-DOWN" in report
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_reconcile_refuses_a_malformed_date():
    with pytest.raises(CommandError):
        call_command("reconcile_payments", "--date", "05/01/2026")
