"""Jobs that must not be lost or done twice, proved with a real worker against real brokers.

A worker subprocess (config.tests.fault_worker) consumes this test's own queue on the real
RabbitMQ (and Redis), reads the test database, and is killed with SIGKILL in the middle of an
SMS delivery or a refund. The figures each test prints are the ones the README quotes.
"""

import pytest

from accounts.tests.factories import PatientFactory
from booking.services import book_slot
from config.tests.workers import RABBITMQ, REDIS, Worker, delete_queue, lines, new_queue, publishing_to, wait_for
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
