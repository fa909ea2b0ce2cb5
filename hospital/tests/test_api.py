"""Browsing without an account: hospitals, the department tree, doctors and their sessions."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts.tests.factories import PatientFactory
from booking.services import book_slot
from hospital.tests.factories import BookingRulesFactory, DepartmentFactory, DoctorFactory, HospitalFactory
from scheduling.models import AllocationPolicy, Schedule
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def same_queries(client, url, grow, django_assert_max_num_queries):
    """The endpoint's query count with one row, then (after `grow()`) with many, must not change."""
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    grow()
    with django_assert_max_num_queries(len(one)):
        response = client.get(url)
    assert response.status_code == 200
    return response


def test_hospitals_are_public_and_closed_ones_hidden(client):
    open_one = HospitalFactory()
    HospitalFactory(is_active=False)
    response = client.get("/api/v1/hospitals/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [open_one.pk]


def test_the_hospital_list_costs_fixed_queries(client, django_assert_max_num_queries):
    DoctorFactory()
    response = same_queries(
        client, "/api/v1/hospitals/", lambda: DoctorFactory.create_batch(4), django_assert_max_num_queries
    )
    assert response.json()["count"] == 5


def test_the_department_tree_nests_every_level_and_skips_closed_ones(client, django_assert_max_num_queries):
    hospital = HospitalFactory()
    internal = DepartmentFactory(hospital=hospital, name="内科")
    cardio = DepartmentFactory(parent=internal, name="心内科")
    DepartmentFactory(parent=cardio, name="心律失常门诊")
    DepartmentFactory(parent=internal, name="已关闭", is_active=False)
    url = f"/api/v1/hospitals/{hospital.pk}/departments/"
    response = same_queries(
        client, url, lambda: DepartmentFactory.create_batch(4, parent=internal), django_assert_max_num_queries
    )
    tree = response.json()
    assert [node["name"] for node in tree] == ["内科"]
    children = tree[0]["children"]
    assert "已关闭" not in [child["name"] for child in children]
    assert children[0]["children"][0]["name"] == "心律失常门诊"


def test_a_closed_or_unknown_hospital_has_no_tree(client):
    closed = HospitalFactory(is_active=False)
    for pk in (closed.pk, 999999):
        response = client.get(f"/api/v1/hospitals/{pk}/departments/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_doctors_filter_by_hospital_department_and_words(client):
    parent = DepartmentFactory(name="内科")
    cardio = DepartmentFactory(parent=parent, name="心内科")
    heart = DoctorFactory(hospital=parent.hospital, departments=[cardio], name="王心", specialty="冠心病")
    other = DoctorFactory(specialty="骨折")

    def ids(query):
        response = client.get(f"/api/v1/doctors/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(f"hospital={parent.hospital_id}") == {heart.pk}
    assert ids(f"department={parent.pk}") == {heart.pk}  # a parent department finds its children's doctors
    assert ids("q=冠心") == {heart.pk}
    assert ids("q=骨折") == {other.pk}


def test_doctors_available_on_a_day_have_an_online_place_left(client):
    rules = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}
    free, full = DoctorFactory(), DoctorFactory()
    for doctor in (free, full):
        BookingRulesFactory(hospital=doctor.hospital, **rules)
    day = timezone.localdate() + datetime.timedelta(days=3)
    make_session(doctor=free, places=1, date=day)
    taken = make_session(doctor=full, places=1, date=day)
    patient = PatientFactory()
    book_slot(user=patient.user, patient=patient, slot=taken.slots.get())
    response = client.get(f"/api/v1/doctors/?available_on={day.isoformat()}")
    assert {row["id"] for row in response.json()["results"]} == {free.pk}
    assert client.get("/api/v1/doctors/?available_on=tomorrow").status_code == 400


def test_the_doctor_list_costs_fixed_queries(client, django_assert_max_num_queries):
    DoctorFactory()
    same_queries(client, "/api/v1/doctors/", lambda: DoctorFactory.create_batch(4), django_assert_max_num_queries)


def test_a_doctor_and_an_inactive_one(client):
    doctor = DoctorFactory()
    gone = DoctorFactory(is_active=False)
    assert client.get(f"/api/v1/doctors/{doctor.pk}/").json()["name"] == doctor.name
    assert client.get(f"/api/v1/doctors/{gone.pk}/").status_code == 404


def test_schedules_show_online_places_release_and_policy(client):
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital)  # default shares: 70% online
    session = make_session(doctor=doctor, places=10, segments=2)
    make_session(doctor=doctor, places=5, status=Schedule.Status.DRAFT, date=session.date + datetime.timedelta(1))
    lottery = make_session(
        doctor=doctor, places=5, policy=AllocationPolicy.LOTTERY, date=session.date + datetime.timedelta(2)
    )
    response = client.get(f"/api/v1/doctors/{doctor.pk}/schedules/")
    assert response.status_code == 200
    rows = response.json()
    assert [row["id"] for row in rows] == [session.pk, lottery.pk]  # the draft is not shown
    first = rows[0]
    online = [slot.online_capacity for slot in session.slots.order_by("start_at")]
    assert [slot["places_left"] for slot in first["slots"]] == online
    assert first["places_left"] == sum(online) < 20  # the window's and partners' shares are not offered
    assert first["policy"] == "fcfs" and rows[1]["policy"] == "lottery"
    assert first["release_at"]


def test_schedules_take_a_bounded_date_range(client):
    doctor = DoctorFactory()
    url = f"/api/v1/doctors/{doctor.pk}/schedules/"
    assert client.get(f"{url}?date_from=2030-01-10&date_to=2030-01-01").status_code == 400
    assert client.get(f"{url}?date_from=2030-01-01&date_to=2031-01-01").json()["code"] == "invalid"
    assert client.get(f"{url}?date_from=nonsense").status_code == 400
    assert client.get("/api/v1/doctors/999999/schedules/").status_code == 404


def test_schedules_cost_fixed_queries(client, django_assert_max_num_queries):
    doctor = DoctorFactory()
    make_session(doctor=doctor, places=3)

    def grow():
        for days in range(4, 9):
            make_session(doctor=doctor, places=3, segments=3, date=timezone.localdate() + datetime.timedelta(days))

    response = same_queries(client, f"/api/v1/doctors/{doctor.pk}/schedules/", grow, django_assert_max_num_queries)
    assert len(response.json()) == 6


def test_anonymous_browsing_is_throttled_with_a_code(client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "100/min", "booking": None})
    assert client.get("/api/v1/hospitals/").status_code == 200
    assert client.get("/api/v1/hospitals/").status_code == 200
    response = client.get("/api/v1/hospitals/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_a_forged_forwarded_for_header_does_not_dodge_the_anonymous_limit(client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "100/min", "booking": None})
    answers = [client.get("/api/v1/hospitals/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(3)]
    assert answers == [200, 200, 429]


def test_anonymous_callers_have_the_anon_limit_only_and_signed_in_ones_the_user_limit(client, monkeypatch):
    from accounts.tests.factories import UserFactory

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "1/min", "booking": None})
    for _ in range(3):  # not also counted, by address, against the (here tighter) user limit
        assert client.get("/api/v1/hospitals/").status_code == 200
    assert client.get("/api/v1/hospitals/").status_code == 429
    client.force_login(UserFactory())
    assert client.get("/api/v1/hospitals/").status_code == 200
    assert client.get("/api/v1/hospitals/").json()["code"] == "throttled"


@pytest.mark.parametrize(
    "query", ["date_from=9999-12-31", "date_from=0001-01-01&date_to=0001-01-02", "date_to=0001-01-01"]
)
def test_schedules_at_the_ends_of_the_calendar_are_no_server_error(client, query):
    doctor = DoctorFactory()
    response = client.get(f"/api/v1/doctors/{doctor.pk}/schedules/?{query}")
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    "query", ["hospital=99999999999999999999", "department=1e30", "q=a%00b", "available_on=0001-01-01", "page=abc"]
)
def test_odd_doctor_filters_are_no_server_error(client, query):
    assert client.get(f"/api/v1/doctors/?{query}").status_code < 500
