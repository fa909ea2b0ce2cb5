import datetime
import logging
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.pii import lookup_hash
from notifications.errors import SmsTemplateError, SmsTransientError
from notifications.models import NotificationLog
from notifications.services import MAX_ATTEMPTS, deliver_sms, requeue_pending_sms, send_sms
from notifications.tasks import deliver_sms_task
from notifications.tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db

CONFIRMED = {
    "patient": "张三",
    "hospital": "北京协和医院",
    "department": "心内科",
    "doctor": "李四",
    "time": datetime.datetime(2025, 3, 4, 0, 30, tzinfo=datetime.UTC),
    "queue_number": 12,
    "order_no": "R20250304001",
    "location": "门诊楼2层B区",
}


def send_confirmation(**overrides):
    return send_sms(**{"phone": "+86 138-0013-8000", "template": "booking_confirmed", "params": CONFIRMED, **overrides})


def test_phone_is_stored_encrypted_with_a_lookup_hash():
    log = send_confirmation()
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_hash FROM notifications_notificationlog WHERE id = %s", [log.pk])
        raw_phone, raw_hash = cursor.fetchone()
    assert "13800138000" not in raw_phone
    assert "8000" not in raw_phone
    assert raw_hash == lookup_hash("phone", "13800138000")
    assert NotificationLog.objects.get(pk=log.pk).phone == "13800138000"


def test_text_is_rendered_in_chinese_with_the_parameters():
    log = send_confirmation()
    assert log.text == (
        "张三，您已成功预约北京协和医院心内科李四医生3月4日 08:30的号源，就诊序号12，订单号R20250304001。"
        "就诊地点：门诊楼2层B区。请按时到院签到就诊。"
    )
    assert log.params["queue_number"] == "12"
    assert log.template == "booking_confirmed"


def test_delivery_waits_for_the_commit_then_the_console_backend_sends(django_capture_on_commit_callbacks, caplog):
    with caplog.at_level(logging.INFO, logger="notifications"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            log = send_confirmation()
        assert len(callbacks) == 1
        log.refresh_from_db()
        assert log.status == NotificationLog.Status.PENDING

        callbacks[0]()

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert log.provider == "console"
    assert log.provider_message_id.startswith("console-")
    assert log.sent_at is not None
    assert log.attempts == 1
    assert "138****8000" in caplog.text
    assert "订单号R20250304001" in caplog.text
    assert "13800138000" not in caplog.text


def test_same_dedupe_key_sends_once(django_capture_on_commit_callbacks, sms_backend):
    backend = sms_backend("RecordingBackend")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = send_confirmation(dedupe_key="visit-reminder:42")
        second = send_confirmation(dedupe_key="visit-reminder:42")
    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert NotificationLog.objects.count() == 1
    assert len(backend.sent) == 1


def test_calls_without_dedupe_key_are_separate_messages(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_confirmation()
        send_confirmation()
    assert NotificationLog.objects.filter(status=NotificationLog.Status.SENT).count() == 2


def test_delivering_twice_sends_once(sms_backend):
    backend = sms_backend("RecordingBackend")
    log = send_confirmation()
    deliver_sms(log_id=log.pk)
    deliver_sms(log_id=log.pk)
    assert len(backend.sent) == 1
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert log.attempts == 1


def test_transient_error_puts_the_message_back_to_pending(sms_backend):
    sms_backend("FlakyBackend", failures=1)
    log = send_confirmation()
    with pytest.raises(SmsTransientError):
        deliver_sms(log_id=log.pk)
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.PENDING
    assert log.attempts == 1
    assert "Throttling.User" in log.error


def test_task_schedules_a_retry_with_backoff_on_a_transient_error(sms_backend):
    sms_backend("FlakyBackend", failures=1)
    log = NotificationLogFactory()
    # Eager mode with propagation (the test settings) surfaces the retry instead of running it.
    with pytest.raises(Retry) as retry:
        deliver_sms_task.delay(log.pk)
    assert retry.value.when == 30
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.PENDING


@pytest.fixture
def eager_retries():
    """Let eager tasks run their retries at once, as a worker would run them later."""
    conf = deliver_sms_task.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False
    yield
    conf.task_eager_propagates = propagates


@pytest.mark.usefixtures("eager_retries")
def test_task_retries_a_transient_error_until_sent(django_capture_on_commit_callbacks, sms_backend):
    backend = sms_backend("FlakyBackend", failures=2)
    with django_capture_on_commit_callbacks(execute=True):
        log = send_confirmation()
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert log.attempts == 3
    assert backend.calls == 3
    assert len(backend.sent) == 1


@pytest.mark.usefixtures("eager_retries")
def test_task_gives_up_after_the_last_attempt(django_capture_on_commit_callbacks, sms_backend):
    backend = sms_backend("FlakyBackend", failures=100)
    with django_capture_on_commit_callbacks(execute=True):
        log = send_confirmation()
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert log.attempts == MAX_ATTEMPTS == deliver_sms_task.max_retries + 1
    assert backend.calls == MAX_ATTEMPTS
    assert "gave up" in log.error


def test_permanent_error_fails_without_retry(django_capture_on_commit_callbacks, sms_backend):
    backend = sms_backend("RefusingBackend")
    with django_capture_on_commit_callbacks(execute=True):
        log = send_confirmation()
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert "isv.MOBILE_NUMBER_ILLEGAL" in log.error
    assert log.sent_at is None
    assert backend.calls == 1


def test_missing_provider_credentials_fail_the_message_not_the_caller(django_capture_on_commit_callbacks, settings):
    settings.ALIYUN_SMS_ACCESS_KEY_ID = ""
    settings.SMS_BACKEND = "aliyun"
    with django_capture_on_commit_callbacks(execute=True):
        log = send_confirmation()
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert log.provider == "aliyun"
    assert "ALIYUN_SMS_ACCESS_KEY_ID" in log.error


def test_unknown_backend_name_fails_the_message(django_capture_on_commit_callbacks, settings):
    settings.SMS_BACKEND = "carrier-pigeon"
    with django_capture_on_commit_callbacks(execute=True):
        log = send_confirmation()
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert "SMS_BACKEND" in log.error


def test_backend_bug_marks_the_message_failed_and_the_caller_carries_on(
    django_capture_on_commit_callbacks, sms_backend
):
    sms_backend("BrokenBackend")
    with django_capture_on_commit_callbacks(execute=True):
        log = send_confirmation()
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert "RuntimeError: bug in the backend" in log.error


def test_verification_code_is_wiped_from_the_log_once_sent(django_capture_on_commit_callbacks, sms_backend):
    backend = sms_backend("RecordingBackend")
    with django_capture_on_commit_callbacks(execute=True):
        log = send_sms(phone="13800138000", template="verification_code", params={"code": "482913"})
    assert backend.sent[0].params == {"code": "482913"}
    assert "482913" in backend.sent[0].text
    log.refresh_from_db()
    assert log.params == {"code": "******"}
    assert "482913" not in log.text


def test_unknown_template_is_refused_at_the_call():
    with pytest.raises(SmsTemplateError):
        send_sms(phone="13800138000", template="booking_confirmd", params=CONFIRMED)
    assert not NotificationLog.objects.exists()


def test_missing_parameter_is_refused_at_the_call():
    with pytest.raises(SmsTemplateError, match="queue_number"):
        send_confirmation(params={k: v for k, v in CONFIRMED.items() if k != "queue_number"})
    assert not NotificationLog.objects.exists()


def test_non_mainland_number_is_refused():
    with pytest.raises(ValidationError):
        send_confirmation(phone="+1 415 555 0100")


def test_stale_pending_messages_are_enqueued_again(sms_backend):
    backend = sms_backend("RecordingBackend")
    stale = NotificationLogFactory()
    NotificationLog.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = NotificationLogFactory()
    assert requeue_pending_sms(older_than=timedelta(minutes=15)) == 1
    assert [m.log_id for m in backend.sent] == [stale.pk]
    fresh.refresh_from_db()
    assert fresh.status == NotificationLog.Status.PENDING
