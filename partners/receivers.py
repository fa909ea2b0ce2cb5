"""Partners listen to booking's status changes (booking never imports partners)."""

from django.dispatch import receiver

from booking.signals import appointment_status_changed
from partners import services


@receiver(appointment_status_changed, dispatch_uid="partners.appointment_status_changed")
def on_status_changed(sender, appointment_id, status, **kwargs):
    services.record_status_change(appointment_id=appointment_id, status=status)
