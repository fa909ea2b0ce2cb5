"""到号提醒: subscribe to a doctor's next days or to a freed place in a session; one SMS per session."""

import pytest

from accounts.tests.factories import PatientFactory
from booking.alerts import doctor_topic, schedule_topic, subscribe_to_doctor, subscribe_to_session
from booking.services import book_slot, cancel_appointment, join_waitlist, suspend_schedule
from notifications.models import NotificationLog, Subscription
from scheduling.models import Schedule
from scheduling.signals import day_released
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_session(rules, doctor):
    session = make_session(doctor=doctor, places=1)
    taker = PatientFactory()
    book_slot(user=taker.user, patient=taker, slot=session.slots.get())
    return session


def _taken(session):
    return session.appointments.get(status="pending_payment")


def _sms(template):
    return list(NotificationLog.objects.filter(template=template))


def test_subscribing_from_the_doctor_page_twice_keeps_one(client, user, doctor):
    client.force_login(user)
    for _ in range(2):
        response = client.post(f"/doctors/{doctor.pk}/alerts/", {"next": f"/doctors/{doctor.pk}/"})
        assert response["Location"] == f"/doctors/{doctor.pk}/"
    assert Subscription.objects.get().topic == doctor_topic(doctor.pk)


def test_a_redirect_elsewhere_is_not_followed(client, user, doctor):
    client.force_login(user)
    response = client.post(f"/doctors/{doctor.pk}/alerts/", {"next": "https://evil.example/"})
    assert response["Location"] == "/alerts/"


def test_a_released_day_is_told_once_per_subscriber(user, doctor, session, django_capture_on_commit_callbacks):
    subscribe_to_doctor(user=user, doctor=doctor)
    for _ in range(2):  # a caught-up release announces the day again
        with django_capture_on_commit_callbacks(execute=True):
            day_released.send(
                sender=Schedule, hospital_id=doctor.hospital_id, day=session.date, schedule_ids=[session.pk]
            )
    (sms,) = _sms("alert_day_released")
    assert sms.phone == user.phone
    assert doctor.name in sms.text
    subscription = Subscription.objects.get()
    assert subscription.notified_at is not None
    assert subscription.notice == sms.text


def test_a_freed_place_is_told_once_per_session(user, full_session, django_capture_on_commit_callbacks):
    subscribe_to_session(user=user, schedule=full_session)
    taken = _taken(full_session)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=taken.patient.user, appointment=taken)
    assert len(_sms("alert_slot_freed")) == 1
    # The place is booked and freed again: still one message for this session.
    other = PatientFactory()
    again = book_slot(user=other.user, patient=other, slot=full_session.slots.get())
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=other.user, appointment=again)
    assert len(_sms("alert_slot_freed")) == 1


def test_a_place_the_waitlist_takes_is_not_announced(user, full_session, django_capture_on_commit_callbacks):
    subscribe_to_session(user=user, schedule=full_session)
    waiting = PatientFactory()
    join_waitlist(user=waiting.user, patient=waiting, schedule=full_session)
    taken = _taken(full_session)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=taken.patient.user, appointment=taken)
    assert _sms("alert_slot_freed") == []
    assert Subscription.objects.get().notified_at is None


def test_a_suspended_session_is_not_announced(user, full_session, scheduler, django_capture_on_commit_callbacks):
    subscribe_to_session(user=user, schedule=full_session)
    with django_capture_on_commit_callbacks(execute=True):
        suspend_schedule(schedule=full_session, reason="医生外出", by=scheduler)
    assert _sms("alert_slot_freed") == []


def test_booking_ends_the_subscription(user, patient, doctor, session, django_capture_on_commit_callbacks):
    subscribe_to_doctor(user=user, doctor=doctor)
    subscribe_to_session(user=user, schedule=session)
    with django_capture_on_commit_callbacks(execute=True):
        book_slot(user=user, patient=patient, slot=session.slots.get())
    assert set(Subscription.objects.values_list("end_reason", flat=True)) == {"booked"}
    with django_capture_on_commit_callbacks(execute=True):
        day_released.send(sender=Schedule, hospital_id=doctor.hospital_id, day=session.date, schedule_ids=[session.pk])
    assert _sms("alert_day_released") == []


def test_someone_elses_booking_leaves_the_subscription(user, doctor, session, django_capture_on_commit_callbacks):
    subscribe_to_session(user=user, schedule=session)
    other = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        book_slot(user=other.user, patient=other, slot=session.slots.get())
    assert Subscription.objects.get().ended_at is None


def test_the_alerts_page_shows_the_notice_and_stops_one(
    client, user, doctor, session, django_capture_on_commit_callbacks
):
    subscription = subscribe_to_doctor(user=user, doctor=doctor)
    with django_capture_on_commit_callbacks(execute=True):
        day_released.send(sender=Schedule, hospital_id=doctor.hospital_id, day=session.date, schedule_ids=[session.pk])
    client.force_login(user)
    text = client.get("/alerts/").content.decode()
    assert "号源已开放预约" in text
    client.post(f"/alerts/{subscription.pk}/stop/")
    subscription.refresh_from_db()
    assert subscription.end_reason == "cancelled"


def test_another_accounts_subscription_cannot_be_stopped(client, user, outsider, doctor):
    subscription = subscribe_to_doctor(user=user, doctor=doctor)
    client.force_login(outsider)
    assert client.post(f"/alerts/{subscription.pk}/stop/").status_code == 404
    subscription.refresh_from_db()
    assert subscription.ended_at is None


def test_a_session_alert_from_the_full_booking_page(client, user, full_session):
    client.force_login(user)
    page = client.get(f"/book/{full_session.slots.get().pk}/").content.decode()
    assert f"/schedules/{full_session.pk}/alerts/" in page
    client.post(f"/schedules/{full_session.pk}/alerts/")
    assert Subscription.objects.get(user=user).topic == schedule_topic(full_session.pk)
