from celery import shared_task


@shared_task(bind=True, max_retries=8)
def request_refund_task(self, order_no: str):
    """Ask payments to refund a cancelled or expired order that was paid; retried if the provider is down."""
    from payments.services import request_refund

    try:
        request_refund(order_no=order_no, reason="appointment_cancelled")
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 30, 3600)) from exc
