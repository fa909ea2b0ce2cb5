"""Visit reminders (evening before, 2 h before), their signed one-tap link, and closing the waitlist."""

import datetime
import re

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors, reminders
from booking.models import Appointment, VisitReminder, WaitlistEntry
from booking.services import book_slot, cancel_appointment, close_waitlists, join_waitlist
from notifications.models import NotificationLog
from scheduling.models import local_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture
def appointment(slot, patient, user):
    booked = book_slot(user=user, patient=patient, slot=slot)
    Appointment.objects.filter(pk=booked.pk).update(status=Appointment.Status.CONFIRMED, paid_at=timezone.now())
    booked.refresh_from_db()
    return booked


def evening_before(slot, hour=18, minute=0):
    return local_datetime(
        timezone.localtime(slot.start_at).date() - datetime.timedelta(days=1), datetime.time(hour, minute)
    )


def reminder_texts():
    return list(NotificationLog.objects.filter(template="visit_reminder_link").values_list("text", flat=True))


def link_path(text):
    return re.search(r"http://[^/]+(/r/\S+/)", text).group(1)


def test_day_before_reminder_goes_at_the_rules_time_once(appointment, slot, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.send_visit_reminders(now=evening_before(slot, 17, 59)) == 0
        assert reminders.send_visit_reminders(now=evening_before(slot, 18, 0)) == 1
        assert reminders.send_visit_reminders(now=evening_before(slot, 18, 5)) == 0
    (text,) = reminder_texts()
    assert appointment.patient.name in text and "确认按时就诊或退号请点击http://" in text
    assert NotificationLog.objects.get(template="visit_reminder_link").status == NotificationLog.Status.SENT
    assert VisitReminder.objects.get().kind == VisitReminder.Kind.DAY_BEFORE


def test_reminder_time_is_a_rule(appointment, slot, rules):
    rules.reminder_time = datetime.time(20, 0)
    rules.save()
    assert reminders.send_visit_reminders(now=evening_before(slot, 19, 0)) == 0
    assert reminders.send_visit_reminders(now=evening_before(slot, 20, 0)) == 1


def test_two_hours_before_the_segment_a_second_reminder_goes_once(appointment, slot):
    reminders.send_visit_reminders(now=evening_before(slot))
    assert reminders.send_visit_reminders(now=slot.start_at - datetime.timedelta(hours=2, minutes=1)) == 0
    assert reminders.send_visit_reminders(now=slot.start_at - datetime.timedelta(hours=2)) == 1
    assert reminders.send_visit_reminders(now=slot.start_at - datetime.timedelta(hours=1)) == 0
    assert sorted(VisitReminder.objects.values_list("kind", flat=True)) == ["day_before", "soon"]
    assert NotificationLog.objects.filter(template="visit_reminder_link").count() == 2


def test_cancelled_appointments_are_not_reminded(appointment, slot, user):
    cancel_appointment(user=user, appointment=appointment, now=evening_before(slot, 12))
    assert reminders.send_visit_reminders(now=evening_before(slot)) == 0
    assert reminders.send_visit_reminders(now=slot.start_at - datetime.timedelta(hours=2)) == 0
    assert reminder_texts() == []


def test_the_link_confirms_attendance_without_login(appointment, slot, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reminders.send_visit_reminders(now=evening_before(slot))
    path = link_path(reminder_texts()[0])
    with time_machine.travel(evening_before(slot, 19), tick=False):
        page = client.get(path)
        assert page.status_code == 200 and "我会按时就诊" in page.content.decode()
        response = client.post(path, {"action": "confirm"}, follow=True)
    assert "已确认" in response.content.decode()
    assert VisitReminder.objects.get().attendance_confirmed_at == evening_before(slot, 19)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_the_link_cancels_before_the_deadline(appointment, slot, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reminders.send_visit_reminders(now=evening_before(slot))
    path = link_path(reminder_texts()[0])
    with time_machine.travel(evening_before(slot, 19), tick=False):
        response = client.post(path, {"action": "cancel"}, follow=True)
    assert "已退号" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancelled_by == appointment.patient.user


def test_the_link_obeys_the_cancel_deadline(appointment, slot, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reminders.send_visit_reminders(now=slot.start_at - datetime.timedelta(hours=2))
    path = link_path(reminder_texts()[0])
    with time_machine.travel(slot.start_at - datetime.timedelta(minutes=90), tick=False):
        response = client.post(path, {"action": "cancel"}, follow=True)
    assert "已超过退号截止时间" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_a_tampered_or_foreign_link_acts_on_nothing(appointment, slot, client):
    reminders.send_visit_reminders(now=evening_before(slot))
    reminder = VisitReminder.objects.get()
    other = PatientFactory()
    token = reminders.reminder_token(reminder)
    forged = signing.dumps({"r": reminder.pk, "a": reminder.appointment_id + 1}, salt="other")
    # A well-signed token naming another appointment than its reminder's.
    mismatched = signing.dumps({"r": reminder.pk, "a": reminder.appointment_id + 1}, salt=reminders.SALT, compress=True)
    with time_machine.travel(evening_before(slot, 19), tick=False):
        for bad in (token[:-2] + "xx", forged, mismatched):
            response = client.post(reverse("reminder_page", args=[bad]), {"action": "cancel"})
            assert response.status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert other.appointments.count() == 0


def test_the_link_expires_when_the_visit_starts(appointment, slot, client):
    reminders.send_visit_reminders(now=evening_before(slot))
    path = reverse("reminder_page", args=[reminders.reminder_token(VisitReminder.objects.get())])
    with time_machine.travel(slot.start_at, tick=False):
        assert client.get(path).status_code == 404


def test_the_link_expires_after_its_max_age(appointment, slot, client):
    with time_machine.travel(evening_before(slot) - datetime.timedelta(days=4), tick=False):
        reminder = VisitReminder.objects.create(appointment=appointment, kind="day_before", sent_at=timezone.now())
        token = reminders.reminder_token(reminder)
    with time_machine.travel(evening_before(slot), tick=False):
        assert client.get(reverse("reminder_page", args=[token])).status_code == 404


# --- closing the waitlist ----------------------------------------------------------------


@pytest.fixture
def waiting(session, slot):
    for _ in range(slot.online_free):
        patient = PatientFactory()
        book_slot(user=patient.user, patient=patient, slot=slot)
    patients = [PatientFactory(), PatientFactory()]
    return [join_waitlist(user=p.user, patient=p, schedule=session) for p in patients]


def test_waitlist_closes_at_23_the_day_before_and_tells_everyone_once(
    waiting, slot, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert close_waitlists(now=evening_before(slot, 22, 59)) == 0
        assert close_waitlists(now=evening_before(slot, 23, 0)) == 2
        assert close_waitlists(now=evening_before(slot, 23, 5)) == 0
    assert set(WaitlistEntry.objects.values_list("status", flat=True)) == {WaitlistEntry.Status.CLOSED}
    texts = NotificationLog.objects.filter(template="waitlist_closed").values_list("text", flat=True)
    assert len(texts) == 2 and all("候补已结束" in t for t in texts)


def test_waitlist_close_time_is_a_rule(waiting, slot, rules):
    rules.waitlist_close_time = datetime.time(21, 0)
    rules.save()
    assert close_waitlists(now=evening_before(slot, 20, 59)) == 0
    assert close_waitlists(now=evening_before(slot, 21, 0)) == 2


def test_a_promoted_entry_is_not_told_the_waitlist_closed(waiting, slot, django_capture_on_commit_callbacks):
    first_booked = Appointment.objects.filter(slot=slot).order_by("pk").first()
    cancel_appointment(user=first_booked.patient.user, appointment=first_booked, now=evening_before(slot, 12))
    assert close_waitlists(now=evening_before(slot, 23)) == 1
    statuses = list(WaitlistEntry.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [WaitlistEntry.Status.PROMOTED, WaitlistEntry.Status.CLOSED]
    assert NotificationLog.objects.filter(template="waitlist_closed").count() == 1


def test_no_one_joins_a_closed_waitlist(waiting, session, slot):
    late = PatientFactory()
    with pytest.raises(errors.WaitlistUnavailable, match="候补已于就诊前一天截止"):
        join_waitlist(user=late.user, patient=late, schedule=session, now=evening_before(slot, 23, 0))
    entry = join_waitlist(user=late.user, patient=late, schedule=session, now=evening_before(slot, 22, 59))
    assert entry.status == WaitlistEntry.Status.WAITING
