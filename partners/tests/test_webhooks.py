"""Signed webhooks for every status change of a partner's appointments, delivered with backoff."""

import datetime
import hashlib
import hmac
import json
import time

import pytest
import requests
import responses
from django.utils import timezone

from accounts.tests.factories import PatientFactory, SuperUserFactory
from booking.models import Appointment
from booking.services import book_slot, cancel_appointment, record_payment, record_refund, suspend_schedule
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import HospitalStaffFactory
from partners import services
from partners.models import WebhookDelivery
from partners.tasks import deliver_webhook_task
from partners.tests.factories import PartnerWebhookFactory

pytestmark = pytest.mark.django_db

URL = "https://partner.example/hooks/booking"


@pytest.fixture
def webhook(partner):
    return PartnerWebhookFactory(partner=partner, url=URL)


@pytest.fixture
def appointment(partner, granted, webhook):
    patient = PatientFactory(user=partner.user)
    return book_slot(user=partner.user, patient=patient, slot=granted["slot"], channel=Channel.PARTNER)


def events():
    return list(WebhookDelivery.objects.order_by("pk").values_list("event", flat=True))


# ---------------------------------------------------------------------------------------------
# One row per status change, written in the transaction that made it


def test_each_status_change_writes_one_delivery_and_queues_it_on_commit(
    appointment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=timezone.now())
    assert events() == ["appointment.confirmed"]
    assert len(callbacks) == 2  # the SMS and this delivery
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["appointment"]["order_no"] == appointment.order_no
    assert delivery.payload["appointment"]["status"] == "confirmed"
    assert delivery.status == WebhookDelivery.Status.PENDING


def test_cancel_and_refund_and_suspension_each_send_their_event(partner, granted, webhook, appointment):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, URL, status=200)
        record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=timezone.now())
        cancel_appointment(user=partner.user, appointment=appointment)
        record_refund(order_no=appointment.order_no, refunded_at=timezone.now())
        other = book_slot(
            user=partner.user, patient=PatientFactory(user=partner.user), slot=granted["slot"], channel=Channel.PARTNER
        )
        scheduler = HospitalStaffFactory(hospital=granted["hospital"], role=HospitalStaff.Role.SCHEDULER).user
        suspend_schedule(schedule=granted["session"], reason="医生临时出诊任务", by=scheduler)
    assert events() == [
        "appointment.confirmed",
        "appointment.cancelled",
        "appointment.refunded",
        "appointment.suspended",
    ]
    assert WebhookDelivery.objects.filter(order_no=other.order_no, event="appointment.suspended").exists()


def test_appointments_of_a_partner_without_a_webhook_send_nothing(granted, partner):
    patient = PatientFactory(user=partner.user)
    mine = book_slot(user=partner.user, patient=patient, slot=granted["slot"], channel=Channel.PARTNER)
    cancel_appointment(user=partner.user, appointment=mine)
    assert not WebhookDelivery.objects.exists()


# ---------------------------------------------------------------------------------------------
# Signature


def test_the_signature_is_verifiable_and_covers_the_timestamp(webhook, appointment):
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=204)
        assert services.deliver_webhook(delivery_id=delivery.pk) is None
        sent = mock.calls[0].request
    timestamp, signature, body = sent.headers["X-Webhook-Timestamp"], sent.headers["X-Webhook-Signature"], sent.body
    expected = hmac.new(webhook.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 60
    assert json.loads(body)["id"] == sent.headers["X-Webhook-Id"] == str(delivery.event_id)
    assert services.verify_signature(secret=webhook.secret, timestamp=timestamp, body=body, signature=signature)
    # a replay with the old timestamp, a new timestamp on the old signature, a changed body, another secret
    old = str(int(timestamp) - 3600)
    assert not services.verify_signature(
        secret=webhook.secret,
        timestamp=old,
        body=body,
        signature=services.sign(secret=webhook.secret, timestamp=old, body=body),
    )
    assert not services.verify_signature(
        secret=webhook.secret, timestamp=str(int(timestamp) + 1), body=body, signature=signature
    )
    assert not services.verify_signature(
        secret=webhook.secret, timestamp=timestamp, body=body + b" ", signature=signature
    )
    assert not services.verify_signature(secret="other", timestamp=timestamp, body=body, signature=signature)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)


# ---------------------------------------------------------------------------------------------
# Retries


def test_a_500_is_retried_with_exponential_backoff_then_delivered(webhook, appointment, settings):
    settings.PARTNER_WEBHOOK_RETRY_BASE_SECONDS = 30
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    now = timezone.now()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=500)
        mock.add(responses.POST, URL, status=503)
        mock.add(responses.POST, URL, status=200)
        assert services.deliver_webhook(delivery_id=delivery.pk, now=now) == 30
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert delivery.next_attempt_at == now + datetime.timedelta(seconds=30)
        assert services.deliver_webhook(delivery_id=delivery.pk, now=now) == 60
        assert services.deliver_webhook(delivery_id=delivery.pk, now=now) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, "")
    assert services.deliver_webhook(delivery_id=delivery.pk) is None  # already delivered: nothing is sent


def test_timeouts_are_transient_and_the_backoff_is_capped(webhook, appointment, settings):
    settings.PARTNER_WEBHOOK_RETRY_MAX_SECONDS = 100
    assert [services.retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, body=requests.Timeout("read timed out"))
        assert services.deliver_webhook(delivery_id=delivery.pk) == 30
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "Timeout" in delivery.last_error


def test_a_4xx_is_final_and_attempts_are_bounded(webhook, appointment, settings):
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=410)
        assert services.deliver_webhook(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("failed", 410)
    settings.PARTNER_WEBHOOK_MAX_ATTEMPTS = 2
    second = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=502)
        assert services.deliver_webhook(delivery_id=second.pk) is not None
        assert services.deliver_webhook(delivery_id=second.pk) is None
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("failed", 2)


def test_the_task_retries_until_delivered(webhook, appointment):
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=500)
        mock.add(responses.POST, URL, status=200)
        deliver_webhook_task.apply(args=[delivery.pk], throw=False)  # as a worker runs it
        assert len(mock.calls) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_the_sweep_requeues_overdue_deliveries(webhook, appointment, django_capture_on_commit_callbacks):
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(hours=1))
    with responses.RequestsMock() as mock, django_capture_on_commit_callbacks(execute=True):
        mock.add(responses.POST, URL, status=200)
        assert services.deliver_due_webhooks() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


# ---------------------------------------------------------------------------------------------
# The admin


def test_deliveries_are_visible_and_resendable_in_the_admin(
    client, webhook, appointment, django_capture_on_commit_callbacks
):
    delivery = services.record_status_change(appointment_id=appointment.pk, status="confirmed")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=10, last_error="HTTP 500")
    client.force_login(SuperUserFactory())
    page = client.get("/admin/partners/webhookdelivery/")
    assert page.status_code == 200 and appointment.order_no in page.content.decode()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, URL, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/admin/partners/webhookdelivery/", {"action": "resend", "_selected_action": [delivery.pk]}
            )
        assert response.status_code == 302
        assert len(mock.calls) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_hospital_staff_cannot_see_deliveries_or_keys(client, webhook, appointment, granted):
    staff = HospitalStaffFactory(hospital=granted["hospital"], role=HospitalStaff.Role.HOSPITAL_ADMIN).user
    client.force_login(staff)
    assert client.get("/admin/partners/webhookdelivery/").status_code == 403
    assert client.get("/admin/partners/partnerapikey/").status_code == 403
    assert Appointment.objects.filter(partner__isnull=False).exists()


def test_the_sweep_is_on_the_clock():
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert PeriodicTask.objects.filter(task="partners.tasks.deliver_due_webhooks_task", enabled=True).exists()
