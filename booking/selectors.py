import datetime

from django.db.models import QuerySet

from booking.models import Appointment, BookingBan, Penalty, WaitlistEntry


def active_ban(*, person_key: str, hospital_id: int, now: datetime.datetime) -> BookingBan | None:
    return (
        BookingBan.objects.filter(
            person_key=person_key, hospital_id=hospital_id, lifted_at__isnull=True, starts_at__lte=now, ends_at__gt=now
        )
        .order_by("-ends_at")
        .first()
    )


def bans_for_patient(*, patient, now: datetime.datetime) -> QuerySet[BookingBan]:
    """The bans in force on this person anywhere, with why and until when (a patient may see these)."""
    return (
        BookingBan.objects.filter(person_key=patient.person_key, lifted_at__isnull=True, ends_at__gt=now)
        .select_related("hospital")
        .order_by("ends_at")
    )


def penalties_for_patient(*, patient) -> QuerySet[Penalty]:
    return (
        Penalty.objects.filter(person_key=patient.person_key)
        .select_related("hospital", "appointment__doctor")
        .order_by("-occurred_at")
    )


def appointments_for_user(*, user) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(patient__user=user)
        .select_related("patient", "hospital", "department", "doctor", "slot")
        .order_by("-visit_date", "-created_at")
    )


def waitlist_position(*, entry: WaitlistEntry) -> int | None:
    """1 for the first in line; None once the entry no longer waits."""
    if entry.status != WaitlistEntry.Status.WAITING:
        return None
    ahead = WaitlistEntry.objects.filter(
        schedule_id=entry.schedule_id, status=WaitlistEntry.Status.WAITING, created_at__lt=entry.created_at
    ).count()
    same_time = WaitlistEntry.objects.filter(
        schedule_id=entry.schedule_id,
        status=WaitlistEntry.Status.WAITING,
        created_at=entry.created_at,
        pk__lt=entry.pk,
    ).count()
    return ahead + same_time + 1
