"""Real threads against PostgreSQL: the database, not luck, keeps an SMS from going out twice."""

import threading

import pytest
from django.db import connection

from notifications.models import NotificationLog
from notifications.services import deliver_sms, send_sms
from notifications.tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def run_concurrently(action):
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(action())
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_calls_with_one_dedupe_key_make_one_message(sms_backend):
    backend = sms_backend("RecordingBackend")

    logs = run_concurrently(
        lambda: send_sms(
            phone="13800138000",
            template="refund_completed",
            params={"patient": "张三", "order_no": "R1", "amount": 100},
            dedupe_key="payment-expired:R1",
        )
    )

    assert len({log.pk for log in logs}) == 1
    assert NotificationLog.objects.count() == 1
    assert len(backend.sent) == 1


def test_concurrent_deliveries_of_one_message_send_it_once(sms_backend):
    backend = sms_backend("RecordingBackend")
    log = NotificationLogFactory()

    run_concurrently(lambda: deliver_sms(log_id=log.pk))

    assert len(backend.sent) == 1
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert log.attempts == 1


def test_a_message_whose_delivery_lock_is_held_is_not_sent_and_asks_to_be_tried_again(sms_backend, settings):
    """A live process holding the lock (here another connection) keeps a second delivery away."""
    import psycopg

    from notifications.errors import SmsDeliveryBusy
    from notifications.services import ADVISORY_LOCK_SPACE

    backend = sms_backend("RecordingBackend")
    log = NotificationLogFactory()
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_LOCK_SPACE, log.pk])
        with pytest.raises(SmsDeliveryBusy):
            deliver_sms(log_id=log.pk)
    # The holder is gone (its connection closed): the next delivery sends it, once.
    deliver_sms(log_id=log.pk)
    deliver_sms(log_id=log.pk)
    assert len(backend.sent) == 1
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT and log.attempts == 1
