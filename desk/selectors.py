"""Reads for the desk screens and the dashboard; the hospital (and, for a doctor, the doctor) is always an argument."""

import contextlib
import datetime

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from accounts import pii
from accounts.models import Patient
from accounts.phones import normalize_mobile
from booking.models import Appointment
from desk.models import DailyStatistics, SuspensionRequest
from hospital.channels import Channel
from scheduling.models import Schedule, Slot

PATIENT_TOKEN_SALT = "desk.patient"
PATIENT_TOKEN_MAX_AGE = 12 * 3600  # a working day at the window
DAY_STATUSES = (
    Appointment.Status.PENDING_PAYMENT,
    Appointment.Status.CONFIRMED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
)


# ---------------------------------------------------------------------------------------------
# The person at the window


def patient_token(patient: Patient) -> str:
    """A signed, expiring reference to a 就诊人 for the desk's links: a 就诊人 belongs to no hospital,
    so the desk reaches one only through a search it made (never by guessing an id)."""
    return signing.dumps(patient.pk, salt=PATIENT_TOKEN_SALT)


def patient_from_token(token: str) -> Patient | None:
    try:
        pk = signing.loads(token, salt=PATIENT_TOKEN_SALT, max_age=PATIENT_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return Patient.objects.filter(pk=pk, is_active=True).first()


def find_patients(*, query: str) -> list[Patient]:
    """就诊人 whose ID number or mobile number is exactly `query` (matched by keyed hash), newest first."""
    query = (query or "").strip().upper()
    if not query:
        return []
    hashes = Q(id_number_hash__in=[Patient.document_hash(kind, query) for kind in Patient.IdType.values])
    with contextlib.suppress(ValidationError):  # not a mobile number: an ID number only
        hashes |= Q(phone_hash=pii.phone_hash(normalize_mobile(query)))
    return list(Patient.objects.filter(hashes, is_active=True).order_by("-created_at")[:20])


# ---------------------------------------------------------------------------------------------
# Places the window and the clinic can book


def bookable_slots(
    *, hospital_id: int, date: datetime.date, channel: str, department_id=None, doctor_id=None, now=None
) -> list[Slot]:
    """Open segments of the day's published sessions that have not ended, each with `desk_free`:
    the channel's own free places, plus the online pool once the channel's reserve went online."""
    now = now or timezone.now()
    slots = Slot.objects.filter(
        schedule__doctor__hospital_id=hospital_id,
        schedule__date=date,
        schedule__status=Schedule.Status.PUBLISHED,
        is_open=True,
        end_at__gt=now,
    ).select_related("schedule__doctor", "schedule__department")
    if department_id:
        slots = slots.filter(schedule__department_id=department_id)
    if doctor_id:
        slots = slots.filter(schedule__doctor_id=doctor_id)
    result = []
    for slot in slots.order_by("schedule__department_id", "schedule__doctor_id", "start_at"):
        slot.desk_free = slot.free_of(channel) + (slot.online_free if slot.channel_released(channel) else 0)
        result.append(slot)
    return result


# ---------------------------------------------------------------------------------------------
# The day screen


def day_appointments(
    *, hospital_id: int, date: datetime.date, department_id=None, doctor_id=None, query: str = ""
) -> list[Appointment]:
    """The day's appointments in queue order (doctor, then 就诊序号), one query whatever the count.

    `query` matches an order number (a scan), a name, or a masked phone as printed (138****5678).
    """
    rows = (
        Appointment.objects.filter(hospital_id=hospital_id, visit_date=date, status__in=DAY_STATUSES)
        .select_related("patient", "doctor", "department", "slot")
        .order_by("doctor_id", "queue_number")
    )
    if department_id:
        rows = rows.filter(department_id=department_id)
    if doctor_id:
        rows = rows.filter(doctor_id=doctor_id)
    query = (query or "").strip()
    if query.isdigit() and len(query) >= 8:
        return list(rows.filter(order_no__startswith=query))
    rows = list(rows)
    if query:
        rows = [a for a in rows if query in a.patient.name or query == a.patient.masked_phone or query == a.order_no]
    return rows


def appointment_for_staff(*, hospital_id: int, pk: int, doctor_id=None) -> Appointment | None:
    """An appointment of this hospital (and of this doctor, for a doctor's account), else None (404)."""
    rows = Appointment.objects.filter(pk=pk, hospital_id=hospital_id).select_related(
        "patient", "doctor", "department", "slot", "schedule", "hospital"
    )
    if doctor_id is not None:
        rows = rows.filter(doctor_id=doctor_id)
    return rows.first()


def doctor_sessions(*, doctor_id: int, date: datetime.date) -> QuerySet[Schedule]:
    return Schedule.objects.filter(doctor_id=doctor_id, date=date).select_related("department").order_by("start_at")


def pending_suspensions(*, hospital_id: int) -> QuerySet[SuspensionRequest]:
    return SuspensionRequest.objects.filter(
        schedule__doctor__hospital_id=hospital_id, status=SuspensionRequest.Status.PENDING
    ).select_related("schedule__doctor", "requested_by")


def export_rows(*, hospital_id: int, start: datetime.date, end: datetime.date):
    """Appointments visiting in [start, end], for the CSV export (iterated in chunks)."""
    return (
        Appointment.objects.filter(hospital_id=hospital_id, visit_date__gte=start, visit_date__lte=end)
        .select_related("patient", "doctor", "department", "booked_by")
        .order_by("visit_date", "doctor_id", "queue_number")
    )


# ---------------------------------------------------------------------------------------------
# The dashboard (reads the snapshot table only)


def dashboard(*, hospital_id: int, today: datetime.date | None = None) -> dict:
    today = today or timezone.localdate()
    week = today - datetime.timedelta(days=6)
    rows = list(
        DailyStatistics.objects.filter(hospital_id=hospital_id, date__gte=week)
        .select_related("department")
        .order_by("date", "department_id", "channel")
    )
    todays = [r for r in rows if r.date == today]
    past = [r for r in rows if r.date < today]
    by_department: dict[str, list[int]] = {}
    by_channel: dict[str, list[int]] = {c: [0, 0] for c in Channel.values}
    for row in todays:
        dept = by_department.setdefault(row.department.name, [0, 0])
        dept[0] += row.booked
        dept[1] += row.capacity
        by_channel[row.channel][0] += row.booked
        by_channel[row.channel][1] += row.capacity
    per_day: dict[datetime.date, int] = {week + datetime.timedelta(days=i): 0 for i in range(7)}
    for row in rows:
        if row.date in per_day:
            per_day[row.date] += row.bookings
    attended = sum(r.attended for r in past)
    no_shows = sum(r.no_shows for r in past)
    future = DailyStatistics.objects.filter(hospital_id=hospital_id, date__gt=today, channel=Channel.ONLINE)
    release_rows = [r for r in future.select_related("department").order_by("-date")[:50] if r.capacity]
    latest = max((r.date for r in release_rows), default=None)
    return {
        "today": today,
        "computed_at": max((r.computed_at for r in rows), default=None),
        "bookings_today": sum(r.bookings for r in todays),
        "capacity_today": sum(r.capacity for r in todays),
        "booked_today": sum(r.booked for r in todays),
        "departments": [_bar(name, *values) for name, values in sorted(by_department.items())],
        "channels": [_bar(str(Channel(c).label), *by_channel[c]) for c in Channel.values],
        "per_day": [{"date": d, "count": n} for d, n in per_day.items()],
        "no_show_rate": _percent(no_shows, attended + no_shows),
        "no_shows": no_shows,
        "revenue_fen": sum(r.revenue_fen for r in todays),
        "refunds_fen": sum(r.refunds_fen for r in todays),
        "week_revenue_fen": sum(r.revenue_fen for r in rows),
        "week_refunds_fen": sum(r.refunds_fen for r in rows),
        "waitlist": DailyStatistics.objects.filter(hospital_id=hospital_id, date__gte=today).aggregate(
            total=Sum("waitlist")
        )["total"]
        or 0,
        "release_date": latest,
        "release": [r for r in release_rows if r.date == latest],
    }


def _percent(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


def _bar(label: str, booked: int, capacity: int) -> dict:
    return {"label": label, "booked": booked, "capacity": capacity, "percent": _percent(booked, capacity) or 0}
