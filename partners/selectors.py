"""What a partner key may read: only hospitals whose grant to that partner is in force."""

import datetime

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Partner
from booking.models import Appointment
from hospital.channels import Channel
from hospital.models import Department, Doctor, Hospital
from partners.models import HospitalGrant
from scheduling.models import AllocationPolicy, Schedule, Slot


def granted_hospital_ids(*, partner: Partner) -> QuerySet:
    return HospitalGrant.objects.filter(partner=partner, revoked_at__isnull=True).values("hospital_id")


def hospitals_for(*, partner: Partner) -> QuerySet[Hospital]:
    return Hospital.objects.filter(pk__in=granted_hospital_ids(partner=partner), is_active=True).order_by("id")


def doctors_for(*, partner: Partner) -> QuerySet[Doctor]:
    departments = Department.objects.filter(is_active=True).order_by("sort_order", "id")
    return (
        Doctor.objects.filter(hospital__in=hospitals_for(partner=partner), is_active=True)
        .prefetch_related(Prefetch("departments", queryset=departments))
        .order_by("hospital_id", "id")
    )


def slots_at_granted_hospitals(*, partner: Partner) -> QuerySet[Slot]:
    """Every slot of a granted hospital, whatever its session's state (what a 改约 may name)."""
    return Slot.objects.filter(schedule__doctor__hospital__in=hospitals_for(partner=partner))


def slots_for(*, partner: Partner) -> QuerySet[Slot]:
    """Every slot of a granted hospital's published sessions (what a booking may name)."""
    return slots_at_granted_hospitals(partner=partner).filter(schedule__status=Schedule.Status.PUBLISHED)


def partner_availability(
    *,
    partner: Partner,
    now: datetime.datetime | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[Slot]:
    """Released first-come-first-served slots still ahead with places left in the partner channel."""
    now = now or timezone.now()
    slots = (
        slots_for(partner=partner)
        .filter(
            is_open=True,
            start_at__gt=now,
            schedule__release_at__lte=now,
            schedule__allocation_policy=AllocationPolicy.FCFS,
            **{f"{Channel.PARTNER}_booked__lt": F(f"{Channel.PARTNER}_capacity")},
        )
        .annotate(places_left=F(f"{Channel.PARTNER}_capacity") - F(f"{Channel.PARTNER}_booked"))
        .select_related("schedule__doctor", "schedule__department")
        .order_by("start_at", "id")
    )
    if date_from is not None:
        slots = slots.filter(schedule__date__gte=date_from)
    if date_to is not None:
        slots = slots.filter(schedule__date__lte=date_to)
    return slots


def appointments_for(*, partner: Partner) -> QuerySet[Appointment]:
    """The partner's own orders, at hospitals whose grant is still in force."""
    return (
        Appointment.objects.filter(partner=partner, hospital__in=hospitals_for(partner=partner))
        .select_related("patient", "hospital", "department", "doctor", "slot")
        .order_by("-created_at", "-id")
    )
