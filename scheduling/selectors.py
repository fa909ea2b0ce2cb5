"""What scheduling reads: slots and sessions for patients and staff, and the browse cache.

The browse cache: a doctor's sessions as `GET /api/v1/doctors/{id}/schedules/` shows them are
kept `settings.SCHEDULES_CACHE_SECONDS` (30 s), each stamped with the doctor's generation. Every
booking service that takes, frees, adds or closes places calls `forget_doctor_schedules` once its
transaction commits (through `booking.places.places_changed`), which moves the doctor to a new
generation: the next read after a commit is fresh. Only a change made around the services (a hand
edit in the database) can be shown stale, for at most that long.
"""

import datetime
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import Doctor, Hospital
from hospital.selectors import rules_for
from scheduling.models import Release, Schedule, Slot, release_moments

logger = logging.getLogger(__name__)


def _generation_key(doctor_id: int) -> str:
    return f"scheduling:schedules-gen:{doctor_id}"


def forget_doctor_schedules(*, doctor_id: int) -> None:
    """Drop every cached range of a doctor's sessions (call after the change has committed)."""
    try:
        cache.set(_generation_key(doctor_id), secrets.token_hex(6), None)
    except Exception:  # entries then lapse by themselves
        logger.warning("schedules cache not invalidated for doctor %s", doctor_id, exc_info=True)


def schedules_changed(*, doctor_id: int) -> None:
    """Call inside the transaction that changed a doctor's sessions (created, published, edited):
    the cached pages are dropped now and again once it commits."""
    forget_doctor_schedules(doctor_id=doctor_id)
    transaction.on_commit(partial(forget_doctor_schedules, doctor_id=doctor_id), robust=True)


def cached_doctor_schedules(*, doctor_id: int, date_from, date_to, build: Callable[[], object]):
    """`build()` (a doctor's sessions, ready to send), from the browse cache when it is there.

    One cache round trip for a hit: the doctor's generation and the range's entry are read
    together, and an entry counts only if it was built under the generation read with it. The
    generation is read before building, so an entry built from a state that a change then
    replaced is stored under the old generation and never served.
    A cache that cannot be reached means building every time, never an error.
    """
    seconds = settings.SCHEDULES_CACHE_SECONDS
    if not seconds:
        return build()
    generation_key = _generation_key(doctor_id)
    key = f"scheduling:schedules:{doctor_id}:{date_from.isoformat()}:{date_to.isoformat()}"
    try:
        found = cache.get_many([generation_key, key])
        generation = found.get(generation_key)
        if generation is None:
            cache.add(generation_key, secrets.token_hex(6), None)
            generation = cache.get(generation_key)
    except Exception:
        logger.warning("schedules cache unreadable", exc_info=True)
        return build()
    entry = found.get(key)
    if entry is not None and entry[0] == generation:
        return entry[1]
    data = build()
    try:
        cache.set(key, (generation, data), seconds)
    except Exception:
        logger.warning("schedules cache not written", exc_info=True)
    return data


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


def with_next_available_date(doctors: QuerySet[Doctor], *, now) -> QuerySet[Doctor]:
    """Annotate `next_available_date`: the doctor's earliest published session, not over yet, with
    an online place left (possibly not released (放号) yet: the day to aim for). The same rule as
    hospital.triage.with_next_available_date for departments."""
    open_place = Q(
        schedules__status=Schedule.Status.PUBLISHED,
        schedules__end_at__gt=now,
        schedules__slots__is_open=True,
        schedules__slots__online_booked__lt=F("schedules__slots__online_capacity"),
    )
    return doctors.annotate(next_available_date=Min("schedules__date", filter=open_place))


def next_free_slots(*, department_ids: list[int], now, limit: int = 8) -> QuerySet[Slot]:
    """最近可约: the earliest released segments with an online place left across the departments'
    active doctors, for patients who don't mind whom they see."""
    return (
        Slot.objects.filter(
            schedule__department_id__in=department_ids,
            schedule__status=Schedule.Status.PUBLISHED,
            schedule__release_at__lte=now,
            schedule__doctor__is_active=True,
            is_open=True,
            start_at__gt=now,
            online_booked__lt=F("online_capacity"),
        )
        # A lottery or priority session takes requests only until its window closes.
        .filter(Q(schedule__request_closes_at__isnull=True) | Q(schedule__request_closes_at__gt=now))
        .annotate(places_left=F(f"{Channel.ONLINE}_capacity") - F(f"{Channel.ONLINE}_booked"))
        .select_related("schedule__doctor", "schedule__department")
        .order_by("start_at", "id")[:limit]
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
            due_at = release_moments(rules=rules, visit_date=day)["release_at"]
            states.append(ReleaseState(hospital, day, due_at, released.get((hospital.pk, day)), now))
    return states


def overdue_releases(*, hospitals: QuerySet[Hospital], now: datetime.datetime | None = None) -> list[ReleaseState]:
    """Releases of the last two days that did not happen within 10 minutes of their moment."""
    now = now or timezone.now()
    return [state for state in release_states(hospitals=hospitals, now=now, days=2) if state.overdue]
