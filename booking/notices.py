"""SMS to patients about their appointments, sent after the transaction that caused them commits."""

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from booking.models import Appointment, BookingRequest
from scheduling.models import Schedule, Slot


def _phone_of(patient) -> str:
    if patient.phone:
        return patient.phone
    return patient.user.phone if patient.user_id else ""


def _send(patient, template: str, params: dict, dedupe_key: str | None = None) -> None:
    phone = _phone_of(patient)
    if not phone:
        return

    def deliver():
        from notifications.services import send_sms

        send_sms(phone=phone, template=template, params=params, dedupe_key=dedupe_key)

    # robust: a message that cannot be queued must never turn a committed booking into an error.
    transaction.on_commit(deliver, robust=True)


def _when(appointment: Appointment) -> str:
    return date_format(timezone.localtime(appointment.estimated_at), "Y-m-d H:i")


def _deadline(appointment: Appointment) -> str:
    return date_format(timezone.localtime(appointment.payment_deadline), "H:i") if appointment.payment_deadline else ""


def appointment_booked(appointment: Appointment) -> None:
    if appointment.status == Appointment.Status.PENDING_PAYMENT:
        _send(
            appointment.patient,
            "booking_pending_payment",
            {
                "patient": appointment.patient.name,
                "doctor": appointment.doctor.name,
                "time": _when(appointment),
                "deadline": _deadline(appointment),
                "order_no": appointment.order_no,
            },
        )
    else:
        appointment_confirmed(appointment)


def appointment_confirmed(appointment: Appointment) -> None:
    _send(
        appointment.patient,
        "booking_confirmed",
        {
            "patient": appointment.patient.name,
            "hospital": appointment.hospital.name,
            "doctor": appointment.doctor.name,
            "time": _when(appointment),
            "queue_number": appointment.queue_number,
            "order_no": appointment.order_no,
        },
        dedupe_key=f"confirmed:{appointment.order_no}",
    )


def appointment_cancelled(appointment: Appointment) -> None:
    _send(
        appointment.patient,
        "booking_cancelled",
        {
            "patient": appointment.patient.name,
            "doctor": appointment.doctor.name,
            "time": _when(appointment),
            "order_no": appointment.order_no,
        },
    )


def payment_expired(appointment: Appointment) -> None:
    _send(
        appointment.patient, "payment_expired", {"patient": appointment.patient.name, "order_no": appointment.order_no}
    )


def schedule_suspended(appointment: Appointment, *, alternatives: str) -> None:
    _send(
        appointment.patient,
        "schedule_suspended",
        {
            "patient": appointment.patient.name,
            "hospital": appointment.hospital.name,
            "doctor": appointment.doctor.name,
            "time": _when(appointment),
            "order_no": appointment.order_no,
            "alternatives": alternatives,
        },
        dedupe_key=f"suspended:{appointment.order_no}",
    )


def waitlist_promoted(appointment: Appointment) -> None:
    if appointment.payment_deadline is None:
        appointment_confirmed(appointment)
        return
    _send(
        appointment.patient,
        "waitlist_promoted",
        {
            "patient": appointment.patient.name,
            "doctor": appointment.doctor.name,
            "time": _when(appointment),
            "deadline": _deadline(appointment),
            "order_no": appointment.order_no,
        },
    )


def lottery_won(appointment: Appointment) -> None:
    if appointment.payment_deadline is None:
        appointment_confirmed(appointment)
        return
    _send(
        appointment.patient,
        "lottery_won",
        {
            "patient": appointment.patient.name,
            "doctor": appointment.doctor.name,
            "time": _when(appointment),
            "deadline": _deadline(appointment),
            "order_no": appointment.order_no,
        },
    )


def lottery_lost(request: BookingRequest) -> None:
    _send(
        request.patient,
        "lottery_lost",
        {
            "patient": request.patient.name,
            "doctor": request.schedule.doctor.name,
            "date": request.schedule.date.isoformat(),
        },
        dedupe_key=f"lottery_lost:{request.pk}",
    )


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
    names = [f"{s.date:%m-%d}{s.get_period_display()} {s.doctor.name}" for s in candidates]
    if not names:
        return _("可改约同科室其他医生，详情请登录查看")
    return _("可改约：%(list)s") % {"list": "、".join(names)}
