import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from hospital import audit
from hospital.channels import CHANNEL_ORDER, split_capacity
from hospital.models import AuditRecord, BookingRules, Department, Doctor, Hospital
from hospital.selectors import rules_for
from scheduling.models import (
    MAX_SEGMENT,
    PERIOD_HOURS,
    AllocationPolicy,
    Schedule,
    ScheduleTemplate,
    Slot,
    local_datetime,
    release_moments,
)
from scheduling.selectors import schedules_changed


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
