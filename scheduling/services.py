import datetime
import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from hospital import audit
from hospital.channels import CHANNEL_ORDER, split_capacity
from hospital.models import AuditRecord, BookingRules, Department, Doctor, Hospital
from hospital.selectors import rules_for
from scheduling.models import (
    MAX_SEGMENT,
    PERIOD_HOURS,
    AllocationPolicy,
    Release,
    Schedule,
    ScheduleTemplate,
    Slot,
    latest_released_day,
    local_datetime,
    release_moments,
)
from scheduling.selectors import schedules_changed
from scheduling.signals import day_released

logger = logging.getLogger("scheduling")


def slot_channel_fields(*, capacity: int, rules: BookingRules) -> dict[str, int]:
    parts = split_capacity(capacity, rules.shares)
    return {f"{channel}_capacity": parts[channel] for channel in CHANNEL_ORDER}


@transaction.atomic
def create_schedule(
    *,
    doctor: Doctor,
    department: Department,
    date: datetime.date,
    period: str,
    segment_minutes: int,
    places_per_segment: int,
    start_time: datetime.time | None = None,
    end_time: datetime.time | None = None,
    allocation_policy: str = AllocationPolicy.FCFS,
    status: str = Schedule.Status.PUBLISHED,
    template: ScheduleTemplate | None = None,
) -> Schedule:
    """Create one session with its slots, each slot's places split between the channels.

    Returns the existing session when the doctor already has one on that date and period.
    """
    existing = Schedule.objects.filter(doctor=doctor, date=date, period=period).first()
    if existing is not None:
        return existing
    default_start, default_end = PERIOD_HOURS[period]
    start_at = local_datetime(date, start_time or default_start)
    end_at = local_datetime(date, end_time or default_end)
    segment = datetime.timedelta(minutes=segment_minutes)
    if not datetime.timedelta(0) < segment <= MAX_SEGMENT:
        raise ValueError("a segment lasts between 1 and 30 minutes")
    rules = rules_for(hospital_id=doctor.hospital_id, department=department, doctor_id=doctor.pk)
    release_at = release_moments(rules=rules, visit_date=date)["release_at"]
    request_closes_at = None
    if allocation_policy != AllocationPolicy.FCFS:
        request_closes_at = min(release_at + datetime.timedelta(hours=rules.lottery_window_hours), start_at)
    try:
        with transaction.atomic():
            schedule = Schedule.objects.create(
                doctor=doctor,
                department=department,
                template=template,
                date=date,
                period=period,
                start_at=start_at,
                end_at=end_at,
                fee_fen=doctor.registration_fee_fen,
                allocation_policy=allocation_policy,
                release_at=release_at,
                request_closes_at=request_closes_at,
                status=status,
            )
    except IntegrityError:
        return Schedule.objects.get(doctor=doctor, date=date, period=period)
    channel_fields = slot_channel_fields(capacity=places_per_segment, rules=rules)
    slots = []
    cursor = start_at
    while cursor + segment <= end_at:
        slots.append(
            Slot(
                schedule=schedule,
                start_at=cursor,
                end_at=cursor + segment,
                capacity=places_per_segment,
                regular_places=places_per_segment,
                first_number=len(slots) * places_per_segment + 1,
                **channel_fields,
            )
        )
        cursor += segment
    Slot.objects.bulk_create(slots)
    schedule.last_queue_number = len(slots) * places_per_segment
    schedule.save(update_fields=["last_queue_number"])
    return schedule


def generate_schedules(
    *,
    start_date: datetime.date,
    days: int,
    hospital: Hospital | None = None,
    templates=None,
    by=None,
) -> int:
    """Create the sessions of active weekly templates (a hospital's, or the given ones) for `days` days.

    Idempotent: sessions that already exist are left as they are. Returns how many were created.
    """
    if templates is None:
        templates = ScheduleTemplate.objects.filter(doctor__hospital=hospital)
    templates = templates.filter(doctor__is_active=True, is_active=True).select_related("doctor", "department")
    created = 0
    for offset in range(days):
        day = start_date + datetime.timedelta(days=offset)
        for template in templates:
            if template.weekday != day.weekday():
                continue
            if Schedule.objects.filter(doctor=template.doctor, date=day, period=template.period).exists():
                continue
            with transaction.atomic():  # the session and its audit record commit together
                schedule = create_schedule(
                    doctor=template.doctor,
                    department=template.department,
                    date=day,
                    period=template.period,
                    start_time=template.start_time,
                    end_time=template.end_time,
                    segment_minutes=template.segment_minutes,
                    places_per_segment=template.places_per_segment,
                    allocation_policy=template.allocation_policy,
                    template=template,
                )
                if by is not None:
                    audit.record(
                        hospital_id=template.doctor.hospital_id,
                        actor=by,
                        action=AuditRecord.Action.SCHEDULES_GENERATED,
                        target=schedule,
                        changes={"template": template.pk, "date": day.isoformat(), "period": template.period},
                    )
            created += 1
    return created


@transaction.atomic
def publish_schedule(*, schedule: Schedule, by=None) -> bool:
    """Draft → published; returns False when it was not a draft. Audited when a person did it (`by`)."""
    published = bool(
        Schedule.objects.filter(pk=schedule.pk, status=Schedule.Status.DRAFT).update(status=Schedule.Status.PUBLISHED)
    )
    if published:
        schedules_changed(doctor_id=schedule.doctor_id)  # patients see it on the next read
    if published and by is not None:
        audit.record(
            hospital_id=schedule.doctor.hospital_id,
            actor=by,
            action=AuditRecord.Action.SCHEDULE_PUBLISHED,
            target=schedule,
            changes={"status": [Schedule.Status.DRAFT, Schedule.Status.PUBLISHED]},
        )
    return published


def generate_upcoming_schedules(*, today: datetime.date | None = None, extra_days: int = 7) -> int:
    """Keep every hospital's sessions generated for its booking window plus a week, ahead of release."""
    today = today or timezone.localdate()
    created = 0
    for hospital in Hospital.objects.filter(is_active=True):
        days = rules_for(hospital_id=hospital.pk).days_ahead + extra_days
        created += generate_schedules(hospital=hospital, start_date=today, days=days)
    return created


# ---------------------------------------------------------------------------------------------
# The daily release (放号)


def release_day(*, hospital_id: int, now: datetime.datetime | None = None) -> list[Release]:
    """放号 for one hospital: every visit day whose release moment has passed and that has no
    Release row yet is generated from the templates, published and recorded, oldest first.

    Catches up days missed while the clock was down (back to today at most); a day whose moment
    has not come is never touched, so a run that fires early does nothing. Each day commits on
    its own and announces `day_released` after its commit. Running it again, or twice at once,
    releases nothing more: the Release row is the claim. Returns the days released by this run.
    """
    now = now or timezone.now()
    hospital = Hospital.objects.get(pk=hospital_id)
    rules = rules_for(hospital_id=hospital_id)
    latest = latest_released_day(rules=rules, now=now)
    today = timezone.localtime(now).date()
    last = Release.objects.filter(hospital_id=hospital_id).aggregate(last=Max("day"))["last"]
    first = latest if last is None else max(last + datetime.timedelta(days=1), today)
    released = []
    day = first
    while day <= latest:
        due_at = release_moments(rules=rules, visit_date=day)["release_at"]
        release = _release_one(hospital=hospital, day=day, due_at=due_at, now=now)
        if release is not None:
            released.append(release)
        day += datetime.timedelta(days=1)
    return released


@transaction.atomic
def _release_one(*, hospital: Hospital, day: datetime.date, due_at, now) -> Release | None:
    try:
        with transaction.atomic():
            # The claim: a concurrent run blocks on the unique index here, then finds the row.
            release = Release.objects.create(hospital=hospital, day=day, due_at=due_at, moment=now)
    except IntegrityError:
        return None
    generate_schedules(hospital=hospital, start_date=day, days=1)
    sessions = Schedule.objects.filter(doctor__hospital=hospital, date=day)
    sessions.filter(status=Schedule.Status.DRAFT).update(status=Schedule.Status.PUBLISHED)
    schedule_ids = list(sessions.filter(status=Schedule.Status.PUBLISHED).values_list("pk", flat=True))
    release.places = Slot.objects.filter(schedule_id__in=schedule_ids).aggregate(n=Sum("capacity"))["n"] or 0
    release.save(update_fields=["places"])
    transaction.on_commit(partial(_announce, release, schedule_ids))
    return release


def _announce(release: Release, schedule_ids: list[int]) -> None:
    results = day_released.send_robust(
        sender=Release, hospital_id=release.hospital_id, day=release.day, schedule_ids=schedule_ids
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error(
                "day_released receiver %r failed for hospital %s day %s",
                receiver,
                release.hospital_id,
                release.day,
                exc_info=(type(result), result, result.__traceback__),
            )


def release_due(*, now: datetime.datetime | None = None) -> dict[int, int]:
    """Release whatever is due and unreleased at every open hospital; one hospital's failure is
    logged and does not stop the others. Returns {hospital_id: days released}."""
    now = now or timezone.now()
    done = {}
    for hospital_id in Hospital.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        try:
            done[hospital_id] = len(release_day(hospital_id=hospital_id, now=now))
        except Exception:
            logger.exception("release for hospital %s failed; the next sweep tries again", hospital_id)
    return done
