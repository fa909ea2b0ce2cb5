"""Celery tasks: thin, idempotent wrappers around payments.services."""

import datetime
import logging

from celery import shared_task

from payments import selectors, services
from payments.errors import ProviderError, ProviderUnavailable

logger = logging.getLogger(__name__)


# Collected by `manage.py setup_periodic_tasks` into django-celery-beat: (name, task, every N seconds).
BEAT_SCHEDULE = [
    ("payments: sweep processing refunds", "payments.tasks.sweep_processing_refunds", 300),
]


@shared_task(bind=True, max_retries=5)
def refresh_refund(self, refund_id: int) -> str:
    """Submit a pending refund again or query a processing one (WeChat) until it is final."""
    try:
        return services.refresh_refund(refund_id=refund_id).status
    except ProviderError as exc:
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task
def sweep_processing_refunds(min_age_minutes: int = 2) -> int:
    """Beat task: every refund still in flight after a while is refreshed, each in its own transaction."""
    refreshed = 0
    for refund_id in selectors.refunds_in_flight(older_than=datetime.timedelta(minutes=min_age_minutes)).values_list(
        "pk", flat=True
    ):
        try:
            services.refresh_refund(refund_id=refund_id)
        except (ProviderError, ProviderUnavailable) as exc:
            logger.warning("Refund %s still not final: %s", refund_id, exc.code)
            continue
        refreshed += 1
    return refreshed


@shared_task(bind=True, max_retries=5)
def settle_or_close_order(self, order_no: str, charge: str | None = None) -> bool:
    """For callers that prefer a task: the order's payment deadline has passed (of every charge, or of one)."""
    try:
        return services.settle_or_close(order_no=order_no, charge=charge)
    except ProviderError as exc:
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
