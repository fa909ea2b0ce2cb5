import datetime
from dataclasses import dataclass

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import Hospital
from hospital.selectors import rules_for
from scheduling.models import Release, Schedule, Slot, local_datetime


def slots_for_patients(*, schedule: Schedule) -> QuerySet[Slot]:
    """A session's open slots with `places_left`: the online places a patient can still book."""
    return (
        Slot.objects.filter(schedule=schedule, is_open=True)
        .annotate(places_left=F(f"{Channel.ONLINE}_capacity") - F(f"{Channel.ONLINE}_booked"))
        .order_by("start_at")
    )


def slots_for_staff(*, schedule: Schedule) -> QuerySet[Slot]:
    """Every slot with each channel's free places (`online_left`, `partner_left`, …) and the total."""
    left = {f"{channel}_left": F(f"{channel}_capacity") - F(f"{channel}_booked") for channel in CHANNEL_ORDER}
    return (
        Slot.objects.filter(schedule=schedule)
        .annotate(places_left=F("capacity") - F("booked"), **left)
        .order_by("start_at")
    )


def schedules_for_patients(*, doctor_id: int, date_from, date_to) -> QuerySet[Schedule]:
    """A doctor's published (and suspended: 停诊 is news to a patient) sessions between two dates,
    each with its open slots (`places_left`: online places) prefetched: two queries for any range."""
    slots = (
        Slot.objects.filter(is_open=True)
        .annotate(places_left=F(f"{Channel.ONLINE}_capacity") - F(f"{Channel.ONLINE}_booked"))
        .order_by("start_at")
    )
    return (
        Schedule.objects.filter(
            doctor_id=doctor_id,
            date__gte=date_from,
            date__lte=date_to,
            status__in=(Schedule.Status.PUBLISHED, Schedule.Status.SUSPENDED),
        )
        .select_related("department")
        .prefetch_related(Prefetch("slots", queryset=slots, to_attr="open_slots"))
        .order_by("date", "start_at")
    )


def doctors_with_online_places_on(*, day) -> QuerySet[Slot]:
    """For a doctor filter: slots of a published session on `day` with an online place left."""
    return Slot.objects.filter(
        schedule__date=day,
        schedule__status=Schedule.Status.PUBLISHED,
        is_open=True,
        online_booked__lt=F("online_capacity"),
    )


@dataclass(frozen=True)
class ReleaseState:
    hospital: Hospital
    day: datetime.date
    due_at: datetime.datetime
    release: Release | None
    checked_at: datetime.datetime

    @property
    def overdue(self) -> bool:
        """Not released within 10 minutes of its moment (or released that late)."""
        if self.release is not None:
            return self.release.is_late
        return self.checked_at - self.due_at > Release.LATE_AFTER

    @property
    def pending(self) -> bool:
        return self.release is None and self.due_at > self.checked_at


def release_states(
    *, hospitals: QuerySet[Hospital], now: datetime.datetime | None = None, days: int = 7
) -> list[ReleaseState]:
    """For each hospital, the visit days whose release was due in the last `days` days (and today's,
    even if not yet due): when it was due and the Release row, if any. Two queries."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    hospitals = list(hospitals.order_by("pk"))
    released = {
        (row.hospital_id, row.day): row
        for row in Release.objects.filter(
            hospital__in=hospitals,
            day__gte=today - datetime.timedelta(days=days),
            day__lte=today + datetime.timedelta(days=60),
        )
    }
    states = []
    for hospital in hospitals:
        rules = rules_for(hospital_id=hospital.pk)
        for back in range(days - 1, -1, -1):
            release_date = today - datetime.timedelta(days=back)
            day = release_date + datetime.timedelta(days=rules.days_ahead)
            due_at = local_datetime(release_date, rules.release_time)
            states.append(ReleaseState(hospital, day, due_at, released.get((hospital.pk, day)), now))
    return states


def overdue_releases(*, hospitals: QuerySet[Hospital], now: datetime.datetime | None = None) -> list[ReleaseState]:
    """Releases of the last two days that did not happen within 10 minutes of their moment."""
    now = now or timezone.now()
    return [state for state in release_states(hospitals=hospitals, now=now, days=2) if state.overdue]
