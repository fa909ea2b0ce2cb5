from celery import shared_task

from notifications.errors import SmsDeliveryBusy, SmsTransientError
from notifications.services import MAX_ATTEMPTS, deliver_sms, requeue_pending_sms

# Collected by `manage.py setup_periodic_tasks` into django-celery-beat: (name, task, every N seconds).
BEAT_SCHEDULE = [
    ("notifications: requeue pending SMS", "notifications.tasks.requeue_pending_sms_task", 300),
]


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1)
def deliver_sms_task(self, log_id):
    try:
        deliver_sms(log_id=log_id)
    except SmsTransientError as exc:
        # 30 s, 60 s, 120 s, 240 s, 480 s: long enough for a per-minute throttle to clear.
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
    except SmsDeliveryBusy as exc:
        # Not an attempt: another live process is sending it. A stuck holder (a stopped
        # process) is left to the requeue sweep once its lock is gone.
        raise self.retry(exc=exc, countdown=5, max_retries=60) from exc


@shared_task
def requeue_pending_sms_task():
    return requeue_pending_sms()
