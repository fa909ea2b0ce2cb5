"""An appointment as an iCalendar event (RFC 5545), for the patient's own calendar app.

Times are written in the hospital's local zone (`TZID=Asia/Shanghai`, with its VTIMEZONE), so a
phone in another zone still shows the right moment. The UID follows the order number and
SEQUENCE its reschedule count: importing the file again after a same-fee 改约 (the order
number stays) updates the event instead of adding a second one.
"""

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from booking.models import Appointment
from booking.notices import where_to_go

PRODID = "-//wangshang-guahao//appointment//ZH"
REMINDER_BEFORE = datetime.timedelta(hours=1)
STATUS = {
    Appointment.Status.PENDING_PAYMENT: "TENTATIVE",
    Appointment.Status.CONFIRMED: "CONFIRMED",
    Appointment.Status.CHECKED_IN: "CONFIRMED",
    Appointment.Status.COMPLETED: "CONFIRMED",
}


def appointment_calendar(appointment: Appointment, *, now: datetime.datetime | None = None) -> bytes:
    """The .ics file of one appointment; it needs hospital, department, doctor and slot loaded."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    start = timezone.localtime(appointment.estimated_at, zone)
    end = timezone.localtime(appointment.slot.end_at, zone)
    if end <= start:
        end = start + datetime.timedelta(minutes=15)
    hospital, department, doctor = appointment.hospital, appointment.department, appointment.doctor
    place = where_to_go(hospital=hospital, department=department)
    summary = _("%(hospital)s %(department)s %(doctor)s医生 就诊（序号%(number)s）") % {
        "hospital": hospital.name,
        "department": department.name,
        "doctor": doctor.name,
        "number": appointment.queue_number,
    }
    description = _("就诊序号：%(number)s\n订单号：%(order_no)s\n状态：%(status)s\n请提前到院签到。") % {
        "number": appointment.queue_number,
        "order_no": appointment.order_no,
        "status": appointment.get_status_display(),
    }

    event = Event()
    event.add("uid", f"{appointment.order_no}@appointment")
    event.add("sequence", appointment.reschedule_count)
    event.add("dtstamp", now.astimezone(datetime.UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("location", " ".join(part for part in (hospital.name, place) if part))
    event.add("description", description)
    event.add("status", STATUS.get(appointment.status, "CANCELLED"))

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -REMINDER_BEFORE)
    alarm.add(
        "description",
        _("%(hospital)s就诊提醒：%(time)s，序号%(number)s")
        % {
            "hospital": hospital.name,
            "time": f"{start:%H:%M}",
            "number": appointment.queue_number,
        },
    )
    event.add_component(alarm)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
