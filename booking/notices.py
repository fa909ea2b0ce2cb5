"""SMS to patients about their appointments, sent after the transaction that caused them commits.

Moments (visit times, payment deadlines) go to the templates as datetimes, so every message
shows them in the one format of notifications.templates_sms, date included.
"""

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.models import Appointment, BookingRequest
from hospital.models import Department, Hospital
from hospital.selectors import rules_for
from notifications.templates_sms import format_date
from scheduling.models import Schedule, Slot


def _phone_of(patient) -> str:
    if patient.phone:
        return patient.phone
    return patient.user.phone if patient.user_id else ""


def _send(patient, template: str, params: dict, dedupe_key: str | None = None) -> None:
    _send_composed(patient, lambda: (template, params), dedupe_key)


def _send_composed(patient, compose, dedupe_key: str | None = None) -> None:
    """Send what `compose()` returns, (template, params), once the transaction has committed."""
    phone = _phone_of(patient)
    if not phone:
        return

    def deliver():
        from notifications.services import send_sms

        template, params = compose()
        send_sms(phone=phone, template=template, params=params, dedupe_key=dedupe_key)

    # robust: a message that cannot be queued must never turn a committed booking into an error.
    transaction.on_commit(deliver, robust=True)


def where_to_go(*, hospital: Hospital, department: Department) -> str:
    """The hospital's address and the department's place (门诊楼2层B区); blank when neither is on file."""
    return " ".join(part for part in (hospital.address.strip(), department.visit_location().strip()) if part)


def _visit(appointment: Appointment) -> dict:
    """What every message about an appointment names: who, where, with whom and when."""
    return {
        "patient": appointment.patient.name,
        "hospital": appointment.hospital.name,
        "department": appointment.department.name,
        "doctor": appointment.doctor.name,
        "time": appointment.estimated_at,
    }


def _to_come(appointment: Appointment) -> dict:
    """A message that asks the patient to come (or to pay for a place they will come to) says where to go."""
    return {
        **_visit(appointment),
        "location": where_to_go(hospital=appointment.hospital, department=appointment.department),
    }


def appointment_booked(appointment: Appointment) -> None:
    if appointment.status == Appointment.Status.PENDING_PAYMENT:
        _send(
            appointment.patient,
            "booking_pending_payment",
            {**_to_come(appointment), "deadline": appointment.payment_deadline, "order_no": appointment.order_no},
        )
    else:
        appointment_confirmed(appointment)


def appointment_confirmed(appointment: Appointment) -> None:
    _send(
        appointment.patient,
        "booking_confirmed",
        {**_to_come(appointment), "queue_number": appointment.queue_number, "order_no": appointment.order_no},
        dedupe_key=f"confirmed:{appointment.order_no}",
    )


def appointment_rescheduled(appointment: Appointment, *, old: Appointment) -> None:
    """改约: the new time, and what is left to pay when the new place costs something to pay."""
    params = {
        **_to_come(appointment),
        "old_time": old.estimated_at,
        "queue_number": appointment.queue_number,
        "order_no": appointment.order_no,
    }
    if appointment.status == Appointment.Status.PENDING_PAYMENT:
        del params["queue_number"]
        params.update(deadline=appointment.payment_deadline, amount=appointment.fee_fen)
        _send(appointment.patient, "booking_rescheduled_pending_payment", params)
    else:
        _send(appointment.patient, "booking_rescheduled", params, dedupe_key=f"rescheduled:{appointment.pk}")


def appointment_cancelled(appointment: Appointment) -> None:
    _send(appointment.patient, "booking_cancelled", {**_visit(appointment), "order_no": appointment.order_no})


def payment_expired(appointment: Appointment) -> None:
    _send(appointment.patient, "payment_expired", {**_visit(appointment), "order_no": appointment.order_no})


def schedule_suspended(appointment: Appointment, *, alternatives: str) -> None:
    _send(
        appointment.patient,
        "schedule_suspended",
        {**_visit(appointment), "order_no": appointment.order_no, "alternatives": alternatives},
        dedupe_key=f"suspended:{appointment.order_no}",
    )


def visit_reminder(appointment: Appointment) -> None:
    _send(
        appointment.patient,
        "visit_reminder",
        {**_to_come(appointment), "queue_number": appointment.queue_number},
        dedupe_key=f"reminder:{appointment.order_no}",
    )


def _held_for_payment(appointment: Appointment, template: str) -> None:
    if appointment.payment_deadline is None:
        appointment_confirmed(appointment)
        return
    _send(
        appointment.patient,
        template,
        {**_to_come(appointment), "deadline": appointment.payment_deadline, "order_no": appointment.order_no},
    )


def waitlist_promoted(appointment: Appointment) -> None:
    _held_for_payment(appointment, "waitlist_promoted")


def lottery_won(appointment: Appointment) -> None:
    _held_for_payment(appointment, "lottery_won")


def waitlist_open_after_draw(*, schedule: Schedule, now: datetime.datetime) -> bool:
    """Whether a loser of the draw could join the session's waitlist now (the rules `join_waitlist` applies)."""
    rules = rules_for(
        hospital_id=schedule.doctor.hospital_id, department=schedule.department, doctor_id=schedule.doctor_id
    )
    if not rules.waitlist_enabled or schedule.status != Schedule.Status.PUBLISHED or now < schedule.release_at:
        return False
    open_slots = Slot.objects.filter(
        schedule_id=schedule.pk,
        is_open=True,
        start_at__gt=now + datetime.timedelta(minutes=rules.close_minutes_before_start),
    )
    # While online places are left the patient books directly; the waitlist is for a full session.
    return open_slots.exists() and not open_slots.filter(online_booked__lt=F("online_capacity")).exists()


def lottery_lost(request: BookingRequest) -> None:
    """A passed-over (ineligible) request is told it did not win, never invited to a waitlist it cannot join.

    Whether the waitlist is open is read after the draw commits, from the session as the draw
    left it, so it adds no work while the draw holds its slot locks.
    """
    schedule_id, patient_name = request.schedule_id, request.patient.name
    passed_over = request.status == BookingRequest.Status.INELIGIBLE

    def compose():
        schedule = Schedule.objects.select_related("doctor__hospital", "department").get(pk=schedule_id)
        now = schedule.drawn_at or timezone.now()
        invite = not passed_over and waitlist_open_after_draw(schedule=schedule, now=now)
        params = {
            "patient": patient_name,
            "hospital": schedule.doctor.hospital.name,
            "department": schedule.department.name,
            "doctor": schedule.doctor.name,
            "session": f"{format_date(schedule.date)}{schedule.get_period_display()}",
        }
        return ("lottery_lost_waitlist_open" if invite else "lottery_lost"), params

    _send_composed(request.patient, compose, dedupe_key=f"lottery_lost:{request.pk}")


def alternatives_text(*, schedule: Schedule, now: datetime.datetime) -> str:
    """Other sessions of the same department that day, or within the next week, with online places left."""
    free = Slot.objects.filter(is_open=True, online_booked__lt=F("online_capacity"), start_at__gt=now)
    candidates = (
        Schedule.objects.filter(
            department_id=schedule.department_id,
            status=Schedule.Status.PUBLISHED,
            date__gte=schedule.date,
            date__lte=schedule.date + datetime.timedelta(days=7),
            slots__in=free,
        )
        .exclude(pk=schedule.pk)
        .select_related("doctor")
        .distinct()
        .order_by("date", "start_at")[:3]
    )
    names = [f"{format_date(s.date)}{s.get_period_display()} {s.doctor.name}" for s in candidates]
    if not names:
        return _("可改约同科室其他医生，详情请登录查看")
    return _("可改约：%(list)s") % {"list": "、".join(names)}
