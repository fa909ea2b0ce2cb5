"""Booking listens to payments at its one boundary: a payment settled, a refund completed."""

from django.dispatch import receiver

from booking import services
from payments.selectors import money_held_for
from payments.signals import payment_succeeded, refund_succeeded


@receiver(payment_succeeded, dispatch_uid="booking.payment_succeeded")
def on_payment_succeeded(sender, payment, **kwargs):
    if payment.charge:  # a supplement owed on the order: a 改约's fee difference
        services.record_difference_payment(
            order_no=payment.order_no, charge=payment.charge, amount_fen=payment.amount_fen, paid_at=payment.paid_at
        )
        return
    services.record_payment(order_no=payment.order_no, amount_fen=payment.amount_fen, paid_at=payment.paid_at)


@receiver(refund_succeeded, dispatch_uid="booking.refund_succeeded")
def on_refund_succeeded(sender, refund, **kwargs):
    # A refund of a duplicate payment may complete while the order's own money is still held.
    order_no = refund.payment.order_no
    if not money_held_for(order_no=order_no):
        services.record_refund(order_no=order_no, refunded_at=refund.succeeded_at)
