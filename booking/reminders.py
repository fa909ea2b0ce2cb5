"""Visit reminders (就诊提醒): an SMS the evening before (at the rules' `reminder_time`) and one
2 hours before the segment, each with a signed one-tap link to confirm or cancel.

Exactly once: the VisitReminder row (unique per appointment and kind) and the SMS log are
written in one transaction, so a job run twice, two beats, or a worker killed half-way never
send a reminder twice, and a committed reminder is always delivered (the SMS requeue sweep
covers a lost broker message). Cancelled or otherwise ended appointments are skipped.

The link carries a signed, expiring token (django.core.signing) naming one reminder and its
appointment: it acts on that appointment only, needs no login, expires when the visit starts
(or after LINK_MAX_AGE), and cancels through `booking.services.cancel_appointment`, so the
cancellation deadline of the appointment's rules applies.
"""

import datetime

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment, VisitReminder
from booking.notices import where_to_go
from hospital.models import Hospital
from hospital.selectors import rules_for

SALT = "booking.reminders.link"
LINK_MAX_AGE = datetime.timedelta(days=3)
SOON = datetime.timedelta(hours=2)


# Who is reminded: a confirmed visit, or one held to be paid at the hospital's desk.
def _to_remind():
    return Appointment.objects.filter(status=Appointment.Status.CONFIRMED) | Appointment.objects.filter(
        status=Appointment.Status.PENDING_PAYMENT, payment_deadline__isnull=True
    )


class InvalidReminderLink(Exception):
    """A link that was tampered with, has expired, or whose visit has started."""


def reminder_token(reminder: VisitReminder) -> str:
    return signing.dumps({"r": reminder.pk, "a": reminder.appointment_id}, salt=SALT, compress=True)


def reminder_link(reminder: VisitReminder) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("reminder_page", args=[reminder_token(reminder)])


def reminder_for_token(token: str, *, now: datetime.datetime | None = None) -> VisitReminder:
    """The reminder a link names, with its appointment; InvalidReminderLink when it may not act."""
    now = now or timezone.now()
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature as exc:  # SignatureExpired is a BadSignature too
        raise InvalidReminderLink() from exc
    reminder = (
        VisitReminder.objects.select_related(
            "appointment__patient__user", "appointment__hospital", "appointment__department", "appointment__doctor"
        )
        .filter(pk=data.get("r"), appointment_id=data.get("a"))
        .first()
    )
    if reminder is None or now >= reminder.appointment.estimated_at:
        raise InvalidReminderLink()
    return reminder


def confirm_attendance(*, reminder: VisitReminder, now: datetime.datetime | None = None) -> bool:
    """ "我会按时就诊": recorded once, while the appointment is still to come. Returns whether it is recorded."""
    now = now or timezone.now()
    if reminder.appointment.status not in (Appointment.Status.CONFIRMED, Appointment.Status.PENDING_PAYMENT):
        return False
    VisitReminder.objects.filter(pk=reminder.pk, attendance_confirmed_at__isnull=True).update(
        attendance_confirmed_at=now
    )
    return True


def phone_of(patient) -> str:
    """The number a patient is told on: their own, else their account's."""
    if patient.phone:
        return patient.phone
    return patient.user.phone if patient.user_id else ""


def remind(*, appointment_id: int, kind: str, now: datetime.datetime | None = None) -> bool:
    """Claim and send one reminder; False when it was already sent or no longer applies."""
    from notifications.services import send_sms

    now = now or timezone.now()
    with transaction.atomic():
        appointment = (
            _to_remind()
            .select_related("patient__user", "hospital", "department", "doctor")
            .filter(pk=appointment_id)
            .first()
        )
        if appointment is None or appointment.estimated_at <= now:
            return False
        try:
            with transaction.atomic():
                reminder = VisitReminder.objects.create(appointment=appointment, kind=kind, sent_at=now)
        except IntegrityError:
            return False
        phone = phone_of(appointment.patient)
        if phone:
            send_sms(
                phone=phone,
                template="visit_reminder_link",
                params={
                    "patient": appointment.patient.name,
                    "hospital": appointment.hospital.name,
                    "department": appointment.department.name,
                    "doctor": appointment.doctor.name,
                    "time": appointment.estimated_at,
                    "queue_number": appointment.queue_number,
                    "location": where_to_go(hospital=appointment.hospital, department=appointment.department),
                    "link": reminder_link(reminder),
                },
                dedupe_key=f"reminder:{kind}:{appointment.order_no}",
            )
    return True


def _not_reminded(kind: str):
    return ~Exists(VisitReminder.objects.filter(appointment=OuterRef("pk"), kind=kind))


def send_day_before_reminders(*, now: datetime.datetime | None = None) -> int:
    """Remind tomorrow's visits at every hospital whose reminder time has come today."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    tomorrow = local.date() + datetime.timedelta(days=1)
    sent = 0
    for hospital_id in Hospital.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        if local.time() < rules_for(hospital_id=hospital_id).reminder_time:
            continue
        due = (
            _to_remind()
            .filter(hospital_id=hospital_id, visit_date=tomorrow)
            .filter(_not_reminded(VisitReminder.Kind.DAY_BEFORE))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for appointment_id in due:
            sent += remind(appointment_id=appointment_id, kind=VisitReminder.Kind.DAY_BEFORE, now=now)
    return sent


def send_soon_reminders(*, now: datetime.datetime | None = None) -> int:
    """Remind visits whose segment starts within the next 2 hours."""
    now = now or timezone.now()
    due = (
        _to_remind()
        .filter(slot__start_at__gt=now, slot__start_at__lte=now + SOON)
        .filter(_not_reminded(VisitReminder.Kind.SOON))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(remind(appointment_id=pk, kind=VisitReminder.Kind.SOON, now=now) for pk in due)


def send_visit_reminders(*, now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    return send_day_before_reminders(now=now) + send_soon_reminders(now=now)
