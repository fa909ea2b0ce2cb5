"""Test sessions: a published schedule with one or more slots, built by the real service."""

import datetime

from django.utils import timezone

from hospital.models import Doctor
from hospital.tests.factories import DoctorFactory
from scheduling.models import AllocationPolicy, Period, Schedule
from scheduling.services import create_schedule


def make_session(
    *,
    doctor: Doctor | None = None,
    date: datetime.date | None = None,
    period: str = Period.MORNING,
    places: int = 5,
    segments: int = 1,
    segment_minutes: int = 30,
    policy: str = AllocationPolicy.FCFS,
    status: str = Schedule.Status.PUBLISHED,
    fee_fen: int | None = None,
) -> Schedule:
    """A session three days ahead (08:00) by default, already released under the default rules."""
    doctor = doctor or DoctorFactory()
    if fee_fen is not None and doctor.registration_fee_fen != fee_fen:
        doctor.registration_fee_fen = fee_fen
        doctor.save(update_fields=["registration_fee_fen"])
    date = date or timezone.localdate() + datetime.timedelta(days=3)
    start = datetime.time(8, 0)
    end_minutes = 8 * 60 + segments * segment_minutes
    return create_schedule(
        doctor=doctor,
        department=doctor.departments.first(),
        date=date,
        period=period,
        start_time=start,
        end_time=datetime.time(end_minutes // 60, end_minutes % 60),
        segment_minutes=segment_minutes,
        places_per_segment=places,
        allocation_policy=policy,
        status=status,
    )
