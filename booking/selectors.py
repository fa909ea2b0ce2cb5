import datetime

from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Patient
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from scheduling.models import Schedule, Slot
from scheduling.selectors import schedules_for_patients


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


def patient_in_use(patient) -> bool:
    """Whether a 就诊人 has an appointment, a waitlist place or a lottery entry still under way."""
    return (
        Appointment.objects.filter(patient=patient, status__in=Appointment.ACTIVE).exists()
        or WaitlistEntry.objects.filter(patient=patient, status=WaitlistEntry.Status.WAITING).exists()
        or BookingRequest.objects.filter(patient=patient, status=BookingRequest.Status.PENDING).exists()
    )


def appointments_of(*, user, status: str | None = None, upcoming: bool | None = None, today=None):
    """The account's appointments for the API, newest visit first, with what the list shows."""
    found = appointments_for_user(user=user).select_related("schedule")
    if status:
        found = found.filter(status=status)
    if upcoming is not None:
        today = today or timezone.localdate()
        if upcoming:
            found = found.filter(visit_date__gte=today, status__in=Appointment.ACTIVE).order_by(
                "visit_date", "estimated_at"
            )
        else:
            found = found.exclude(visit_date__gte=today, status__in=Appointment.ACTIVE)
    return found


def booking_requests_of(*, user) -> QuerySet[BookingRequest]:
    return (
        BookingRequest.objects.filter(patient__user=user)
        .select_related("patient", "schedule__doctor__hospital", "schedule__department", "appointment")
        .order_by("-created_at", "-id")
    )


def waitlist_of(*, user) -> QuerySet[WaitlistEntry]:
    """The account's waitlist entries, each with `position` (1 = next in line; None once not waiting)."""
    waiting = WaitlistEntry.Status.WAITING
    ahead = (
        WaitlistEntry.objects.filter(schedule_id=OuterRef("schedule_id"), status=waiting)
        .filter(Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")))
        .order_by()
        .values("schedule_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        WaitlistEntry.objects.filter(patient__user=user)
        .select_related("patient", "schedule__doctor__hospital", "schedule__department", "appointment")
        .annotate(
            position=Case(
                When(status=waiting, then=Coalesce(Subquery(ahead, output_field=IntegerField()), 0) + 1),
                default=None,
                output_field=IntegerField(),
            )
        )
        .order_by("-created_at", "-id")
    )


def penalties_and_bans_of(*, user, now: datetime.datetime) -> tuple[dict, list[Penalty], list[BookingBan]]:
    """Every record and ban in force on the people this account books for (three queries), with
    the account's own 就诊人 for each person key (a record may hang on the same person elsewhere)."""
    mine = {patient.person_key: patient for patient in Patient.objects.filter(user=user).order_by("is_active", "-id")}
    keys = list(mine)
    if not keys:
        return mine, [], []
    penalties = list(
        Penalty.objects.filter(person_key__in=keys)
        .select_related("hospital", "patient", "appointment__doctor")
        .order_by("-occurred_at")
    )
    bans = list(
        BookingBan.objects.filter(person_key__in=keys, lifted_at__isnull=True, ends_at__gt=now)
        .select_related("hospital", "patient")
        .order_by("ends_at")
    )
    return mine, penalties, bans


# ---------------------------------------------------------------------------------------------
# Patient web pages (booking/views.py)


def slot_for_booking(*, slot_id: int) -> Slot | None:
    """A slot of a session patients can see (published or 停诊), with what the booking page shows."""
    return (
        Slot.objects.select_related("schedule__doctor__hospital", "schedule__department")
        .filter(pk=slot_id, schedule__status__in=(Schedule.Status.PUBLISHED, Schedule.Status.SUSPENDED))
        .first()
    )


def reschedule_targets(*, appointment: Appointment, now: datetime.datetime, days_ahead: int) -> list[Schedule]:
    """The same doctor's bookable sessions in the window, each with `open_slots` that still have an
    online place (the appointment's own slot left out). Two queries whatever the number of slots."""
    today = timezone.localdate(now)
    found = []
    for schedule in schedules_for_patients(
        doctor_id=appointment.doctor_id, date_from=today, date_to=today + datetime.timedelta(days=days_ahead)
    ):
        if schedule.status != Schedule.Status.PUBLISHED or schedule.release_at > now:
            continue
        if schedule.uses_requests and schedule.drawn_at is None:
            continue
        schedule.open_slots = [
            slot
            for slot in schedule.open_slots
            if slot.places_left > 0 and slot.start_at > now and slot.pk != appointment.slot_id
        ]
        if schedule.open_slots:
            found.append(schedule)
    return found


def amount_due_fen(appointment: Appointment) -> int:
    """Still to pay for this order: the fee while unpaid, or a dearer 改约's difference."""
    if appointment.status == Appointment.Status.PENDING_PAYMENT:
        return appointment.fee_fen
    if appointment.status == Appointment.Status.AWAITING_DIFFERENCE:
        return appointment.difference_fen
    return 0


def reschedule_outcome(appointment: Appointment) -> tuple[int, int]:
    """After a 改约: (still to pay for this order, refunded from the order it replaced), in fen."""
    due = amount_due_fen(appointment)
    previous = appointment.rescheduled_from
    if previous is None:
        return due, 0
    if previous.refund_requested_at is not None:
        return due, previous.fee_fen  # refunded in full, the new fee is paid afresh
    if appointment.order_no == previous.order_no.rsplit("-", 1)[0] and previous.fee_fen > appointment.fee_fen:
        return due, previous.fee_fen - appointment.fee_fen  # the payment carried over, the difference refunded
    return due, 0
