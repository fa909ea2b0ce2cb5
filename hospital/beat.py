"""Each hospital's daily release (放号) as a django-celery-beat crontab entry at its release time.

The entry runs `scheduling.tasks.release_day_task(hospital_id)` (named, not imported: scheduling
sits above hospital). It is written whenever the hospital's own BookingRules row or the hospital
itself is saved, after the commit, by name, so running it again changes nothing.
"""

import json

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from hospital.models import BookingRules, Hospital

RELEASE_TASK = "scheduling.tasks.release_day_task"
RELEASE_TIMEZONE = "Asia/Shanghai"


def release_entry_name(hospital_id: int) -> str:
    return f"release: hospital {hospital_id}"


def sync_release_entry(*, hospital_id: int) -> PeriodicTask | None:
    """Create, move or disable the hospital's release entry to match its rules and state."""
    from hospital.selectors import rules_for

    hospital = Hospital.objects.filter(pk=hospital_id).first()
    if hospital is None:
        PeriodicTask.objects.filter(name=release_entry_name(hospital_id)).delete()
        return None
    at = rules_for(hospital_id=hospital_id).release_crontab()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        **at,
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=RELEASE_TIMEZONE,
    )
    entry, _ = PeriodicTask.objects.update_or_create(
        name=release_entry_name(hospital_id),
        defaults={
            "task": RELEASE_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([hospital_id]),
            "enabled": hospital.is_active,
            "description": f"{hospital.name} 每日 {int(at['hour']):02d}:{int(at['minute']):02d} 放号",
        },
    )
    return entry


def sync_all_release_entries() -> list[PeriodicTask]:
    return [
        entry
        for hospital_id in Hospital.objects.order_by("pk").values_list("pk", flat=True)
        if (entry := sync_release_entry(hospital_id=hospital_id)) is not None
    ]


def _sync_on_commit(hospital_id: int) -> None:
    transaction.on_commit(lambda: sync_release_entry(hospital_id=hospital_id), robust=True)


@receiver(post_save, sender=BookingRules, dispatch_uid="hospital.beat.rules_saved")
@receiver(post_delete, sender=BookingRules, dispatch_uid="hospital.beat.rules_deleted")
def _rules_changed(sender, instance, **kwargs):
    if instance.department_id is None and instance.doctor_id is None:
        _sync_on_commit(instance.hospital_id)


@receiver(post_save, sender=Hospital, dispatch_uid="hospital.beat.hospital_saved")
def _hospital_saved(sender, instance, **kwargs):
    _sync_on_commit(instance.pk)


@receiver(post_delete, sender=Hospital, dispatch_uid="hospital.beat.hospital_deleted")
def _hospital_deleted(sender, instance, **kwargs):
    _sync_on_commit(instance.pk)
