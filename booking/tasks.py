"""The clock's jobs for booking: each a thin, idempotent wrapper around a service."""

from celery import shared_task

from booking import allocation, reminders, services

# Collected by `manage.py setup_periodic_tasks` into django-celery-beat: (name, task, every N seconds).
BEAT_SCHEDULE = [
    ("booking: expire unpaid orders", "booking.tasks.expire_unpaid_task", 60),
    ("booking: draw closed lotteries", "booking.tasks.draw_due_schedules_task", 60),
    ("booking: release unused reserves", "booking.tasks.release_reserves_task", 300),
    ("booking: mark no-shows", "booking.tasks.mark_no_shows_task", 900),
    ("booking: retry unfinished refunds", "booking.tasks.retry_unfinished_refunds_task", 600),
    ("booking: send visit reminders", "booking.tasks.send_visit_reminders_task", 600),
    ("booking: close waitlists", "booking.tasks.close_waitlists_task", 300),
]


@shared_task
def expire_unpaid_task() -> int:
    return services.expire_unpaid()


@shared_task
def draw_due_schedules_task() -> int:
    return len(allocation.draw_due_schedules())


@shared_task
def release_reserves_task() -> int:
    return services.release_reserves()


@shared_task
def mark_no_shows_task() -> int:
    return services.mark_no_shows()


@shared_task
def retry_unfinished_refunds_task() -> int:
    return services.retry_unfinished_refunds()


@shared_task
def send_visit_reminders_task() -> int:
    return reminders.send_visit_reminders()


@shared_task
def close_waitlists_task() -> int:
    return services.close_waitlists()


@shared_task(bind=True, max_retries=8)
def request_refund_task(self, order_no: str):
    """Ask payments to refund a cancelled or expired order that was paid; retried while the provider is down."""
    from payments.errors import ProviderError
    from payments.services import request_refund

    try:
        request_refund(order_no=order_no, reason="appointment_cancelled")
    except ProviderError as exc:
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 30, 3600)) from exc
