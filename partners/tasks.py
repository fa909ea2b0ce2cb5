from celery import shared_task
from django.conf import settings

from partners import services


@shared_task(bind=True, max_retries=None)
def deliver_webhook_task(self, delivery_id):
    retry_in = services.deliver_webhook(delivery_id=delivery_id)
    if retry_in is not None and self.request.retries < settings.PARTNER_WEBHOOK_MAX_ATTEMPTS:
        raise self.retry(countdown=retry_in)


@shared_task
def deliver_due_webhooks_task():
    return services.deliver_due_webhooks()
