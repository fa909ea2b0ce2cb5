"""Scheduling listens to its own announcements: a released day warms the browse cache, and a
saved session drops its doctor's cached pages."""

import logging

from django.db.models.signals import post_save
from django.dispatch import receiver
from rest_framework.exceptions import NotFound

from scheduling.models import Schedule
from scheduling.selectors import schedules_changed
from scheduling.signals import day_released

logger = logging.getLogger(__name__)


@receiver(day_released, dispatch_uid="scheduling.warm_schedules_cache")
def warm_schedules_cache(sender, schedule_ids=(), **kwargs):
    """Build the released doctors' default schedule pages before the patients ask for them.

    Idempotent: each doctor moves to a fresh cache generation, then the page is built once.
    """
    from scheduling.api import default_schedule_range, doctor_schedules
    from scheduling.selectors import forget_doctor_schedules

    date_from, date_to = default_schedule_range()
    doctor_ids = sorted(set(Schedule.objects.filter(pk__in=list(schedule_ids)).values_list("doctor_id", flat=True)))
    for doctor_id in doctor_ids:
        forget_doctor_schedules(doctor_id=doctor_id)
        try:
            doctor_schedules(doctor_id=doctor_id, date_from=date_from, date_to=date_to)
        except NotFound:
            logger.info("doctor %s is closed: nothing to warm", doctor_id)


@receiver(post_save, sender=Schedule, dispatch_uid="scheduling.schedule_saved")
def schedule_saved(sender, instance, **kwargs):
    schedules_changed(doctor_id=instance.doctor_id)
