"""The browse cache of `GET /api/v1/doctors/{id}/schedules/`: places left are never wrong by more
than its staleness, because every booking service refreshes it (now and on commit)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking.services import add_places, book_slot, cancel_appointment, suspend_schedule
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.models import Schedule
from scheduling.services import publish_schedule
from scheduling.signals import day_released
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db
ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


@pytest.fixture
def doctor():
    doctor = DoctorFactory(registration_fee_fen=0)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    return doctor


@pytest.fixture
def slot(doctor):
    return make_session(doctor=doctor, places=3).slots.get()


@pytest.fixture
def admin(doctor):
    return HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN).user


def _places_left(client, doctor) -> list[int]:
    response = client.get(f"/api/v1/doctors/{doctor.pk}/schedules/")
    assert response.status_code == 200
    return [row["places_left"] for row in response.json()]


def _uncached_places_left(doctor) -> list[int]:
    schedules = Schedule.objects.filter(doctor=doctor, status=Schedule.Status.PUBLISHED).order_by("date", "start_at")
    return [
        sum(s.online_capacity - s.online_booked for s in schedule.slots.filter(is_open=True)) for schedule in schedules
    ]


def test_a_cached_page_costs_no_query(client, doctor, slot):
    first = _places_left(client, doctor)
    with CaptureQueriesContext(connection) as captured:
        assert _places_left(client, doctor) == first == [3]
    assert captured.captured_queries == []


def test_a_hit_is_one_cache_read_and_an_entry_of_an_older_generation_is_never_served(doctor, slot, monkeypatch):
    from django.core.cache import cache

    from scheduling import selectors

    day = timezone.localdate()
    builds = []

    def read():
        return selectors.cached_doctor_schedules(
            doctor_id=doctor.pk, date_from=day, date_to=day, build=lambda: builds.append(1) or len(builds)
        )

    assert read() == 1
    reads, inside = [], []

    def counting(name):
        original = getattr(cache, name)

        def call(*args, **kwargs):
            if not inside:  # a backend's get_many may call its own get
                reads.append(name)
            inside.append(1)
            try:
                return original(*args, **kwargs)
            finally:
                inside.pop()

        monkeypatch.setattr(cache, name, call)

    counting("get")
    counting("get_many")
    assert read() == 1 and reads == ["get_many"]  # the generation and the entry, together
    selectors.forget_doctor_schedules(doctor_id=doctor.pk)
    assert read() == 2  # the entry is still in the cache, but of the old generation: rebuilt


def test_booking_cancelling_adding_places_and_suspending_show_at_once(client, doctor, slot, admin):
    assert _places_left(client, doctor) == [3]
    patient = PatientFactory()
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    assert _places_left(client, doctor) == _uncached_places_left(doctor) == [2]
    cancel_appointment(user=patient.user, appointment=appointment)
    assert _places_left(client, doctor) == _uncached_places_left(doctor) == [3]
    add_places(slot=slot, places=2, channel=Channel.ONLINE, reason="加号", by=admin)
    assert _places_left(client, doctor) == _uncached_places_left(doctor) == [5]
    suspend_schedule(schedule=slot.schedule, reason="停诊", by=admin)
    response = client.get(f"/api/v1/doctors/{doctor.pk}/schedules/").json()
    assert response[0]["status"] == "suspended" and response[0]["slots"] == []


def test_a_commit_refreshes_what_a_reader_cached_in_between(client, doctor, slot, django_capture_on_commit_callbacks):
    """A page read between the booking's UPDATE and its commit (the old places) is dropped on commit."""
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        book_slot(user=patient.user, patient=patient, slot=slot)
    from django.core.cache import cache

    cache.clear()  # as if the refresh had not happened yet, and a reader cached the old count:
    from scheduling.api import default_schedule_range, doctor_schedules

    date_from, date_to = default_schedule_range()
    with connection.cursor() as cursor:  # the reader saw the slot before the booking committed
        cursor.execute("UPDATE scheduling_slot SET online_booked = online_booked - 1, booked = booked - 1")
        doctor_schedules(doctor_id=doctor.pk, date_from=date_from, date_to=date_to)
        cursor.execute("UPDATE scheduling_slot SET online_booked = online_booked + 1, booked = booked + 1")
    assert _places_left(client, doctor) == [3]  # stale, within the staleness
    for callback in callbacks:
        callback()  # the commit
    assert _places_left(client, doctor) == [2]


def test_new_and_published_sessions_show_at_once(client, doctor, slot):
    assert len(_places_left(client, doctor)) == 1
    draft = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=5), status="draft")
    assert len(_places_left(client, doctor)) == 1
    publish_schedule(schedule=draft)
    assert len(_places_left(client, doctor)) == 2


def _release(slot):
    schedule = slot.schedule
    hospital_id = schedule.doctor.hospital_id
    day_released.send(sender=None, hospital_id=hospital_id, day=schedule.date, schedule_ids=[schedule.pk])


def test_a_released_day_warms_the_cache(client, doctor, slot):
    day_released.send(
        sender=None, hospital_id=doctor.hospital_id, day=slot.schedule.date, schedule_ids=[slot.schedule_id]
    )
    with CaptureQueriesContext(connection) as captured:
        assert _places_left(client, doctor) == [3]
    assert captured.captured_queries == []


def test_a_closed_doctor_is_a_404_and_never_cached(client, doctor, slot):
    doctor.is_active = False
    doctor.save()
    assert client.get(f"/api/v1/doctors/{doctor.pk}/schedules/").status_code == 404
    day_released.send(
        sender=None, hospital_id=doctor.hospital_id, day=slot.schedule.date, schedule_ids=[slot.schedule_id]
    )
    assert client.get(f"/api/v1/doctors/{doctor.pk}/schedules/").status_code == 404
