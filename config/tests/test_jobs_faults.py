"""Jobs that must not be lost or done twice, proved with a real worker against real brokers.

A worker subprocess (config.tests.fault_worker) consumes this test's own queue on the real
RabbitMQ (and Redis), reads the test database, and is killed with SIGKILL in the middle of an
SMS delivery or a refund. The figures each test prints are the ones the README quotes.
"""

import datetime
import os
import signal
from collections import Counter
from contextlib import suppress

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking.models import Appointment
from booking.services import book_slot
from config.tests.workers import (
    DEAD_BROKER,
    RABBITMQ,
    REDIS,
    Worker,
    delete_queue,
    lines,
    new_queue,
    publishing_to,
    wait_for,
)
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from notifications.models import NotificationLog
from scheduling.tests.factories import make_session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


@pytest.fixture
def session(db):
    doctor = DoctorFactory(registration_fee_fen=0)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    return make_session(doctor=doctor, places=60, segments=1)


def sent_status(log_id):
    return NotificationLog.objects.filter(pk=log_id, status=NotificationLog.Status.SENT).exists()


@pytest.mark.parametrize("broker_url", [RABBITMQ, REDIS], ids=["rabbitmq", "redis"])
def test_a_booking_sms_is_delivered_by_a_real_worker(broker_url, session, tmp_path):
    queue = new_queue()
    worker = Worker(broker_url=broker_url, queue=queue, fault_dir=tmp_path).start()
    try:
        with publishing_to(broker_url, queue):
            patient = PatientFactory()
            appointment = book_slot(user=patient.user, patient=patient, slot=session.slots.get())
        log = NotificationLog.objects.get()
        wait_for(lambda: sent_status(log.pk), what="the SMS to be sent", worker=worker)
    finally:
        worker.kill()
        delete_queue(broker_url, queue)
    log.refresh_from_db()
    assert log.template in ("booking_confirmed", "booking_pending_payment")
    assert appointment.order_no in log.text
    assert log.provider == "console" and log.attempts == 1
    assert lines(tmp_path, "done.log") == [f"sms {log.pk}"]


def test_a_message_that_kills_its_worker_every_time_stops_as_failed(session, tmp_path):
    from notifications.services import MAX_ATTEMPTS, send_sms

    queue = new_queue()
    worker = Worker(broker_url=RABBITMQ, queue=queue, fault_dir=tmp_path, FAULT_SUICIDE=1).start()
    try:
        with publishing_to(RABBITMQ, queue):
            log = send_sms(phone="13800138000", template="account_unknown", params={})
        wait_for(
            lambda: NotificationLog.objects.filter(pk=log.pk, status=NotificationLog.Status.FAILED).exists(),
            what="the SMS to be given up",
            worker=worker,
            timeout=120,
        )
    finally:
        worker.kill()
        delete_queue(RABBITMQ, queue)
    log.refresh_from_db()
    assert log.attempts == MAX_ATTEMPTS + 1
    assert "the worker died in each" in log.error
    assert len(lines(tmp_path, "started.log")) == MAX_ATTEMPTS
    assert lines(tmp_path, "done.log") == []
    print(f"\nFIGURE process dies every time: {MAX_ATTEMPTS} attempts died, then marked failed")


KILLS = 50
SMS_JOBS = REFUND_JOBS = KILLS // 2


def paid_sandbox_payments(count):
    from payments.models import Payment, Provider
    from payments.tests.factories import PaymentFactory

    return [
        PaymentFactory(provider=Provider.SANDBOX, method="page", status=Payment.Status.PAID, paid_at=timezone.now())
        for _ in range(count)
    ]


def test_fifty_kills_in_the_middle_of_sms_and_refunds_lose_nothing_and_repeat_nothing(session, tmp_path):
    """Every job is killed (its pool child, SIGKILL) once, in the middle of the provider call; the
    broker redelivers it and the redelivery finishes it. `done.log` is what the provider saw."""
    from booking.tasks import request_refund_task
    from notifications.services import send_sms
    from payments.models import Payment, Refund

    queue = new_queue()
    worker = Worker(broker_url=RABBITMQ, queue=queue, fault_dir=tmp_path, concurrency=4, FAULT_SLEEP=1.0).start()
    payments = paid_sandbox_payments(REFUND_JOBS)
    killed: set[tuple[str, str]] = set()
    try:
        with publishing_to(RABBITMQ, queue):
            logs = [
                send_sms(phone="13800138000", template="account_unknown", params={}, dedupe_key=f"kill-{n}")
                for n in range(SMS_JOBS)
            ]
            for payment in payments:
                request_refund_task.delay(payment.order_no)

        def everything_done():
            for line in lines(tmp_path, "started.log"):
                kind, ident, pid = line.split()
                if (kind, ident) not in killed:
                    with suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
                    killed.add((kind, ident))
            sent = NotificationLog.objects.filter(pk__in=[log.pk for log in logs], status="sent").count()
            refunded = Refund.objects.filter(payment__in=payments, status=Refund.Status.SUCCEEDED).count()
            return sent == SMS_JOBS and refunded == REFUND_JOBS

        wait_for(everything_done, timeout=240, what="every job to finish", worker=worker)
    finally:
        worker.kill()
        delete_queue(RABBITMQ, queue)

    done = Counter(lines(tmp_path, "done.log"))
    sms_done = {ident: n for ident, n in done.items() if ident.startswith("sms ")}
    refunds_done = {ident: n for ident, n in done.items() if ident.startswith("refund ")}
    assert len(killed) == KILLS
    assert sms_done == {f"sms {log.pk}": 1 for log in logs}  # every SMS reached the provider exactly once
    refunds = Refund.objects.filter(payment__in=payments)
    assert refunds.count() == REFUND_JOBS  # one refund per payment: the claim in the database
    assert refunds_done == {f"refund {refund.refund_no}": 1 for refund in refunds}
    assert set(Payment.objects.filter(pk__in=[p.pk for p in payments]).values_list("status", flat=True)) == {
        Payment.Status.REFUNDED
    }
    attempts = sorted(
        NotificationLog.objects.filter(pk__in=[log.pk for log in logs]).values_list("attempts", flat=True)
    )
    assert set(attempts) == {2}  # the killed attempt and the one that finished it
    print(
        f"\nFIGURE kill -9 on RabbitMQ: {len(killed)} kills survived ({SMS_JOBS} mid-SMS, {REFUND_JOBS} mid-refund), "
        f"jobs lost 0, SMS sent twice 0, refunds made twice 0"
    )


def test_with_the_broker_down_booking_paying_and_cancelling_commit_and_the_sweeps_deliver_later(
    tmp_path, settings, caplog
):
    """Nothing listens on the broker's port: every publish on commit fails fast and is logged, the
    actions commit, their SMS stay as pending rows; once the broker is back the requeue sweep
    and the refund sweep send each message and the refund once."""
    from booking.services import cancel_appointment, pay_appointment, retry_unfinished_refunds
    from notifications.services import requeue_pending_sms
    from payments.models import Refund
    from payments.providers.sandbox import build_paid_notification
    from payments.services import receive_payment_notification

    settings.PAYMENTS_SANDBOX = True
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    slot = make_session(doctor=doctor, places=5).slots.get()
    patient = PatientFactory()
    queue = new_queue()
    with publishing_to(DEAD_BROKER, queue):
        appointment = book_slot(user=patient.user, patient=patient, slot=slot)
        started = pay_appointment(user=patient.user, appointment=appointment, provider="sandbox", method="page")
        receive_payment_notification(provider="sandbox", incoming=build_paid_notification(started.payment))
        cancel_appointment(user=patient.user, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED and appointment.paid_at is not None
    logs = list(NotificationLog.objects.order_by("pk"))
    assert [log.template for log in logs] == ["booking_pending_payment", "booking_confirmed", "booking_cancelled"]
    assert {log.status for log in logs} == {NotificationLog.Status.PENDING}
    assert "Connection refused" in caplog.text or "OperationalError" in caplog.text
    assert not Refund.objects.exists()  # the refund request was a message, lost with the broker

    worker = Worker(broker_url=RABBITMQ, queue=queue, fault_dir=tmp_path).start()
    try:
        with publishing_to(RABBITMQ, queue):
            assert requeue_pending_sms(older_than=datetime.timedelta(0)) == 3
            assert requeue_pending_sms(older_than=datetime.timedelta(0)) == 3  # a sweep repeated: still once
            assert retry_unfinished_refunds(now=timezone.now() + datetime.timedelta(minutes=10)) == 1
        wait_for(lambda: all(sent_status(log.pk) for log in logs), what="the pending SMS to go out", worker=worker)
    finally:
        worker.kill()
        delete_queue(RABBITMQ, queue)
    assert Counter(lines(tmp_path, "done.log")) == {f"sms {log.pk}": 1 for log in logs}
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    print(f"\nFIGURE broker down: 3 actions committed, {len(logs)} SMS kept pending and sent once after, 1 refund")
