"""Who may book, and whether now and this person may: the checks every booking path shares.

Online bookings, requests, the waitlist and the draw run the same checks; the window and the
clinic (staff channels) skip the per-person limits but not real name or one-per-doctor-per-day.
"""

import datetime
import logging
import secrets
from dataclasses import dataclass
from functools import partial

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import Partner, Patient
from booking import errors
from booking.models import Appointment
from booking.places import STAFF_CHANNELS
from booking.selectors import active_ban
from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import BookingRules
from hospital.roles import staff_role
from hospital.selectors import rules_for
from scheduling.models import Schedule, Slot, local_datetime

logger = logging.getLogger(__name__)

Status = Appointment.Status
# Appointments that no longer count towards a patient's limits.
# A move awaiting its fee difference is the same booking as the order it moves from.
NOT_COUNTED = (Status.CANCELLED, Status.EXPIRED, Status.REFUNDED, Status.RESCHEDULED, Status.AWAITING_DIFFERENCE)
LIMIT_LABELS = {
    "department_day": "同一科室每天",
    "hospital_day": "本院每天",
    "active": "未就诊预约",
    "month": "每月",
}


# ---------------------------------------------------------------------------------------------
# Who may act


def require_staff(*, user, hospital_id: int, roles: tuple[str, ...] | None = None) -> str:
    role = staff_role(user=user, hospital_id=hospital_id)
    if role is None or (roles is not None and role != "superuser" and role not in roles):
        raise errors.NotStaff()
    return role


def books_for(*, user, patient: Patient) -> bool:
    """Whether an account (a patient's, or a partner's service account) may book for this 就诊人:
    one of its own that is still in use."""
    return patient.user_id == user.pk and patient.is_active


def check_actor(*, user, patient: Patient, channel: str, hospital_id: int) -> Partner | None:
    """Online bookings are for the user's own 就诊人; partners for the patients they registered;
    the window and the clinic book for anyone, but only the hospital's own staff can use them."""
    if channel not in CHANNEL_ORDER:
        raise ValueError(f"unknown channel {channel!r}")
    if channel in STAFF_CHANNELS:
        require_staff(user=user, hospital_id=hospital_id)
        if not patient.is_active:
            raise errors.PatientInactive()
        return None
    partner = None
    if channel == Channel.PARTNER:
        partner = Partner.objects.filter(user_id=user.pk, is_active=True).first()
        if partner is None:
            raise errors.NotOwner()
    if not books_for(user=user, patient=patient):
        raise errors.NotOwner()
    return partner


# ---------------------------------------------------------------------------------------------
# Rule checks shared by booking, requests, the waitlist and the draw


def local_text(moment: datetime.datetime) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def check_timing(*, schedule: Schedule, slot: Slot, channel: str, rules: BookingRules, now) -> None:
    if channel in STAFF_CHANNELS:
        # The window and the consulting room book up to the end of the segment, before release too.
        if now >= slot.end_at:
            raise errors.BookingClosed()
        return
    if now < schedule.release_at:
        raise errors.NotReleasedYet(release_at=local_text(schedule.release_at))
    today = timezone.localdate(now)
    if schedule.date > today + datetime.timedelta(days=rules.days_ahead):
        raise errors.OutsideWindow(days=rules.days_ahead)
    if now >= slot.start_at - datetime.timedelta(minutes=rules.close_minutes_before_start):
        raise errors.BookingClosed()
    if schedule.date == today and not rules.same_day_booking:
        raise errors.BookingClosed()
    if rules.day_before_cutoff_time is not None:
        cutoff = local_datetime(schedule.date - datetime.timedelta(days=1), rules.day_before_cutoff_time)
        if now >= cutoff:
            raise errors.BookingClosed()


def check_person(
    *, patient: Patient, schedule: Schedule, rules: BookingRules, channel: str, now, moving: int | None = None
) -> None:
    """Real name, bans, one appointment per doctor per day, and the per-person limits.

    `moving`: the id of the person's appointment being rescheduled (改约); it is about to give
    its place up, so it counts against neither the limits nor one-per-doctor-per-day.
    """
    hospital_id = schedule.doctor.hospital_id
    if rules.real_name_required and not patient.has_real_name:
        raise errors.RealNameRequired()
    staff_channel = channel in STAFF_CHANNELS
    if not staff_channel or rules.ban_applies_to_staff_channels:
        ban = active_ban(person_key=patient.person_key, hospital_id=hospital_id, now=now)
        if ban is not None:
            raise errors.PatientBanned(until=date_format(timezone.localtime(ban.ends_at), "Y-m-d"))
    counted = Appointment.objects.filter(person_key=patient.person_key, hospital_id=hospital_id).exclude(
        status__in=NOT_COUNTED
    )
    if moving is not None:
        counted = counted.exclude(pk=moving)
    usage = counted.aggregate(
        same_doctor=Count(
            "pk", filter=Q(doctor_id=schedule.doctor_id, visit_date=schedule.date, status__in=Appointment.ACTIVE)
        ),
        department_day=Count("pk", filter=Q(visit_date=schedule.date, department_id=schedule.department_id)),
        hospital_day=Count("pk", filter=Q(visit_date=schedule.date)),
        active=Count("pk", filter=Q(status__in=Appointment.ACTIVE)),
        month=Count("pk", filter=Q(visit_date__year=schedule.date.year, visit_date__month=schedule.date.month)),
    )
    if usage["same_doctor"]:
        raise errors.DuplicateBooking()
    if staff_channel:
        return
    limits = {
        "department_day": rules.max_per_department_per_day,
        "hospital_day": rules.max_per_hospital_per_day,
        "active": rules.max_active,
        "month": rules.max_per_month,
    }
    for limit, maximum in limits.items():
        if usage[limit] >= maximum:
            raise errors.LimitExceeded(limit=limit, limit_label=LIMIT_LABELS[limit], maximum=maximum)


@dataclass(frozen=True)
class PenaltyRules:
    """The no-show policy that judges a penalty or a ban (see `penalty_rules`)."""

    late_cancel_counts: bool
    no_show_threshold: int
    no_show_window_days: int
    ban_days: int

    FIELDS = ("late_cancel_counts", "no_show_threshold", "no_show_window_days", "ban_days")

    @classmethod
    def of(cls, rules) -> "PenaltyRules":
        return cls(**{name: getattr(rules, name) for name in cls.FIELDS})

    @classmethod
    def from_snapshot(cls, snapshot: dict, *, fallback: "PenaltyRules") -> "PenaltyRules":
        """The rules stored on a ban; a field an older row lacks comes from `fallback`."""
        return cls(**{name: (snapshot or {}).get(name, getattr(fallback, name)) for name in cls.FIELDS})

    def as_snapshot(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}


def penalty_rules(appointment: Appointment) -> PenaltyRules:
    """The rules a no-show or late cancel of this appointment is judged by.

    The same rule row the booking used (the doctor's, else the department's, else the hospital's:
    the same override lookup as `schedule_rules`), as it stands when the penalty happens — not the
    appointment's snapshot. Why not the snapshot: a ban weighs the person's whole record at this
    hospital, appointments booked under many rule versions; judging it by whichever appointment
    happened to come last would make the outcome depend on that accident, so the policy in force
    now applies to every record alike. A ban stores the rules it was issued under, and lifting it
    after a waiver is judged by those same rules.
    """
    return PenaltyRules.of(
        rules_for(
            hospital_id=appointment.hospital_id, department=appointment.department, doctor_id=appointment.doctor_id
        )
    )


# The rules in force are read on every booking; they change rarely. Each save or delete of a
# hospital's rules moves the hospital to a new cache generation (now and on commit), so a booking
# never judges by rules older than the last committed save. RULES_CACHE_SECONDS only bounds a
# change made around the model's save (a queryset update, a department moved to another parent).
RULES_CACHE_SECONDS = 300


def _rules_generation_key(hospital_id: int) -> str:
    return f"booking:rules-gen:{hospital_id}"


def forget_rules(hospital_id: int) -> None:
    try:
        cache.set(_rules_generation_key(hospital_id), secrets.token_hex(6), None)
    except Exception:
        logger.warning("rules cache not invalidated for hospital %s", hospital_id, exc_info=True)


@receiver([post_save, post_delete], sender=BookingRules, dispatch_uid="booking.rules_changed")
def _rules_changed(sender, instance, **kwargs):
    forget_rules(instance.hospital_id)
    transaction.on_commit(partial(forget_rules, instance.hospital_id), robust=True)


def schedule_rules(schedule: Schedule) -> BookingRules:
    """The rules in force for a session (`hospital.selectors.rules_for`), cached per rules version."""
    hospital_id = schedule.doctor.hospital_id

    def load():
        return rules_for(hospital_id=hospital_id, department=schedule.department, doctor_id=schedule.doctor_id)

    try:
        generation = cache.get(_rules_generation_key(hospital_id))
        if generation is None:
            cache.add(_rules_generation_key(hospital_id), secrets.token_hex(6), None)
            generation = cache.get(_rules_generation_key(hospital_id))
        key = f"booking:rules:{hospital_id}:{generation}:{schedule.department_id}:{schedule.doctor_id}"
        rules = cache.get(key)
    except Exception:
        logger.warning("rules cache unreadable", exc_info=True)
        return load()
    if rules is None:
        rules = load()
        try:
            cache.set(key, rules, RULES_CACHE_SECONDS)
        except Exception:
            logger.warning("rules cache not written", exc_info=True)
    return rules
