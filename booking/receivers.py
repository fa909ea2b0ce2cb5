"""Booking listens to payments at its one boundary (a payment settled, a refund completed), to
itself for 到号提醒 (a place freed, a subscriber booked) and to scheduling (a day released)."""

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from booking import alerts, services
from booking.models import Appointment
from booking.signals import appointment_status_changed
from payments.selectors import money_held_for
from payments.signals import payment_succeeded, refund_succeeded
from scheduling.signals import day_released

logger = logging.getLogger(__name__)

# Moves that give the place back to the slot.
FREES_A_PLACE = (Appointment.Status.CANCELLED, Appointment.Status.EXPIRED, Appointment.Status.RESCHEDULED)


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


@receiver(appointment_status_changed, dispatch_uid="booking.alerts.place_freed")
def on_place_freed(sender, appointment_id, status, **kwargs):
    """到号提醒: runs inside the booking's transaction, so it writes nothing there; after the commit
    it looks whether the place is still free (the waitlist may have taken it) and tells subscribers."""
    if status not in FREES_A_PLACE:
        return

    def announce():
        schedule_id = Appointment.objects.values_list("schedule_id", flat=True).get(pk=appointment_id)
        alerts.announce_freed_place(schedule_id=schedule_id)

    transaction.on_commit(announce, robust=True)


@receiver(post_save, sender=Appointment, dispatch_uid="booking.alerts.booked")
def on_booked(sender, instance, created, **kwargs):
    """A new order ends the account's 到号提醒 for that doctor and session (after the commit: the
    booking transaction stays as short as it is)."""
    if not created:
        return
    user_id, doctor_id, schedule_id = instance.patient.user_id, instance.doctor_id, instance.schedule_id
    transaction.on_commit(
        lambda: alerts.end_after_booking(user_id=user_id, doctor_id=doctor_id, schedule_id=schedule_id), robust=True
    )


@receiver(day_released, dispatch_uid="booking.alerts.day_released")
def on_day_released(sender, hospital_id, day, schedule_ids, **kwargs):
    """Sent after the release committed; idempotent (one message per subscriber per doctor and day)."""
    alerts.announce_released_day(schedule_ids=list(schedule_ids), day=day)
