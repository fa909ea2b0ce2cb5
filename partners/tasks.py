"""Webhook delivery: thin wrappers around partners.services."""

from celery import shared_task
from django.conf import settings

from partners import services

# Collected by `manage.py setup_periodic_tasks` into django-celery-beat: (name, task, every N seconds).
BEAT_SCHEDULE = [
    ("partners: re-queue overdue webhooks", "partners.tasks.deliver_due_webhooks_task", 300),
]


@shared_task(bind=True, max_retries=None)
def deliver_webhook_task(self, delivery_id):
    """One attempt; a transient failure is retried after the backoff the service computed."""
    retry_in = services.deliver_webhook(delivery_id=delivery_id)
    if retry_in is not None and self.request.retries < settings.PARTNER_WEBHOOK_MAX_ATTEMPTS:
        raise self.retry(countdown=retry_in)


@shared_task
def deliver_due_webhooks_task() -> int:
    return services.deliver_due_webhooks()
