"""Booking and payments together: paying, the timeout, a late payment, refunds on cancel and 停诊."""

import pytest
from django.utils import timezone

from booking.models import Appointment
from booking.services import (
    book_slot,
    cancel_appointment,
    expire_unpaid,
    pay_appointment,
    suspend_schedule,
)
from payments.models import Payment, Refund

pytestmark = pytest.mark.django_db


def _pending(patient, slot):
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    assert appointment.status == Appointment.Status.PENDING_PAYMENT
    return appointment


def _post_wechat(client, body, headers):
    return client.post(
        "/payments/notify/wechat/",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k.lower() != "content-type"},
    )


def _paid_with_wechat(client, wechat, patient, slot):
    appointment = _pending(patient, slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native")
    assert started.code_url.startswith("weixin://")
    body, headers = wechat.notification(started.payment)
    assert _post_wechat(client, body, headers).status_code in (200, 204)
    appointment.refresh_from_db()
    return appointment, started.payment


def test_sandbox_payment_confirms_the_appointment(client, sandbox, slot, patient):
    appointment = _pending(patient, slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="sandbox", method="page")
    page = client.get(started.redirect_url)
    assert "模拟支付" in page.content.decode()
    client.post(started.redirect_url)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.paid_at is not None


def test_only_the_owner_may_pay(sandbox, slot, patient, outsider):
    from booking import errors

    appointment = _pending(patient, slot)
    with pytest.raises(errors.NotOwner):
        pay_appointment(user=outsider, appointment=appointment, provider="sandbox", method="page")


def test_wechat_notification_confirms_once(client, wechat, slot, patient):
    appointment, payment = _paid_with_wechat(client, wechat, patient, slot)
    assert appointment.status == Appointment.Status.CONFIRMED
    body, headers = wechat.notification(payment)
    assert _post_wechat(client, body, headers).status_code in (200, 204)  # the provider repeats itself
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert Payment.objects.filter(order_no=appointment.order_no, status=Payment.Status.PAID).count() == 1


def test_timeout_closes_the_payment_and_expires_the_order(wechat, slot, patient):
    appointment = _pending(patient, slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native")
    assert expire_unpaid(now=appointment.payment_deadline) == 1
    appointment.refresh_from_db()
    started.payment.refresh_from_db()
    slot.refresh_from_db()
    assert appointment.status == Appointment.Status.EXPIRED
    assert started.payment.status == Payment.Status.CLOSED
    assert slot.booked == 0
    assert any(path.endswith("/close") for path in wechat.paths_called())


def test_money_that_arrived_without_a_notification_is_found_at_the_timeout(wechat, slot, patient):
    appointment = _pending(patient, slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native")
    wechat.buyer_pays(started.payment)  # paid, but the notification never came
    assert expire_unpaid(now=appointment.payment_deadline) == 0
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_a_payment_after_expiry_is_refunded(client, wechat, slot, patient, django_capture_on_commit_callbacks):
    appointment = _pending(patient, slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native")
    expire_unpaid(now=appointment.payment_deadline)
    # The provider still took the buyer's money (e.g. an Alipay trade that did not exist yet when
    # it was closed is created when the buyer pays on the old page afterwards).
    wechat.buyer_pays(started.payment)
    with django_capture_on_commit_callbacks(execute=True):
        body, headers = wechat.notification(started.payment)
        _post_wechat(client, body, headers)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.EXPIRED
    assert appointment.refund_requested_at is not None
    refund = Refund.objects.get(payment__order_no=appointment.order_no)
    assert refund.amount_fen == appointment.fee_fen


def test_cancelling_a_paid_appointment_refunds_it_and_ends_refunded(
    client, wechat, slot, patient, django_capture_on_commit_callbacks
):
    appointment, _payment = _paid_with_wechat(client, wechat, patient, slot)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=appointment)
    refund = Refund.objects.get(payment__order_no=appointment.order_no)
    assert refund.status == Refund.Status.PROCESSING  # WeChat answers the refund later
    body, headers = wechat.refund_notification(refund)
    response = client.post(
        "/payments/notify/wechat/refund/",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k.lower() != "content-type"},
    )
    assert response.status_code in (200, 204)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.REFUNDED
    assert appointment.refunded_at is not None


def test_suspension_refunds_paid_appointments(
    client, wechat, session, slot, patient, scheduler, django_capture_on_commit_callbacks
):
    appointment, _payment = _paid_with_wechat(client, wechat, patient, slot)
    with django_capture_on_commit_callbacks(execute=True):
        suspend_schedule(schedule=session, reason="医生临时停诊", by=scheduler, now=timezone.now())
    refund = Refund.objects.get(payment__order_no=appointment.order_no)
    assert refund.amount_fen == appointment.fee_fen


def test_once_paid_the_orders_other_attempts_are_closed(
    client, wechat, alipay, slot, patient, django_capture_on_commit_callbacks
):
    appointment = _pending(patient, slot)
    by_wechat = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native").payment
    by_alipay = pay_appointment(user=patient.user, appointment=appointment, provider="alipay", method="wap").payment
    alipay.buyer_pays(by_alipay)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/payments/notify/alipay/", data=alipay.notification(by_alipay))
    appointment.refresh_from_db()
    by_wechat.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert by_wechat.status == Payment.Status.CLOSED
    assert any(path.endswith("/close") for path in wechat.paths_called())
