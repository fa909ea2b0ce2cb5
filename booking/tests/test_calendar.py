"""GET /api/v1/appointments/{order_no}/calendar.ics: the visit as an iCalendar event."""

import datetime
import zoneinfo

import pytest
from icalendar import Calendar

from booking.calendar import appointment_calendar
from booking.models import Appointment
from booking.services import book_slot
from hospital.models import Department
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def appointment(patient, slot):
    Department.objects.filter(pk=slot.schedule.department_id).update(location="门诊楼2层B区")
    return book_slot(user=patient.user, patient=patient, slot=slot)


def _url(order_no):
    return f"/api/v1/appointments/{order_no}/calendar.ics"


def _event(content: bytes):
    calendar = Calendar.from_ical(content)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_the_file_is_an_icalendar_event(client, patient, appointment):
    client.force_login(patient.user)
    response = client.get(_url(appointment.order_no))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    calendar, event = _event(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(event["UID"]).startswith(appointment.order_no)


def test_start_is_the_estimated_time_in_shanghai(appointment):
    calendar, event = _event(appointment_calendar(appointment))
    start = event.decoded("DTSTART")
    assert start.tzinfo is not None and start.utcoffset() == datetime.timedelta(hours=8)
    assert start == appointment.estimated_at  # the same instant
    assert start.astimezone(datetime.UTC) == appointment.estimated_at.astimezone(datetime.UTC)
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert start.astimezone(SHANGHAI).hour == 8  # the session starts at 08:00 local time
    assert any(str(tz["TZID"]) == "Asia/Shanghai" for tz in calendar.walk("VTIMEZONE"))
    assert event.decoded("DTEND") > start


def test_location_names_hospital_and_department_place(appointment):
    _calendar, event = _event(appointment_calendar(appointment))
    location = str(event["LOCATION"])
    assert appointment.hospital.name in location and "门诊楼2层B区" in location


def test_queue_number_and_reminder(appointment):
    _calendar, event = _event(appointment_calendar(appointment))
    assert f"序号{appointment.queue_number}" in str(event["SUMMARY"])
    assert str(appointment.queue_number) in str(event["DESCRIPTION"])
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == -datetime.timedelta(hours=1)


def test_pending_is_tentative_and_cancelled_is_cancelled(appointment):
    _calendar, event = _event(appointment_calendar(appointment))
    assert str(event["STATUS"]) == "TENTATIVE"
    appointment.status = Appointment.Status.CANCELLED
    _calendar, event = _event(appointment_calendar(appointment))
    assert str(event["STATUS"]) == "CANCELLED"


def test_another_users_appointment_is_404(client, appointment, outsider):
    client.force_login(outsider)
    response = client.get(_url(appointment.order_no))
    assert response.status_code == 404 and response.json()["code"]


def test_unknown_order_is_404(client, patient):
    client.force_login(patient.user)
    assert client.get(_url("1" * 24)).status_code == 404


def test_asking_for_text_calendar_is_honoured(client, patient, appointment, outsider):
    client.force_login(patient.user)
    assert client.get(_url(appointment.order_no), headers={"Accept": "text/calendar"}).status_code == 200
    client.force_login(outsider)
    assert client.get(_url(appointment.order_no), headers={"Accept": "text/calendar"}).status_code == 404


@pytest.mark.parametrize("others", [0, 3])
def test_query_count_is_fixed(client, patient, appointment, doctor, django_assert_max_num_queries, others):
    for day in range(others):
        slot = make_session(doctor=doctor, date=appointment.visit_date + datetime.timedelta(days=day + 1)).slots.get()
        book_slot(user=patient.user, patient=patient, slot=slot)
    client.force_login(patient.user)
    with django_assert_max_num_queries(6):
        assert client.get(_url(appointment.order_no)).status_code == 200
