"""/api/v1/patients/: the account's 就诊人, masked, validated, removed safely; how a caller signs in."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Patient
from accounts.tests.factories import DEFAULT_PASSWORD, PatientFactory, UserFactory, resident_id_number
from booking.services import book_slot, cancel_appointment
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


def app_token(client, phone: str) -> str:
    response = client.post(
        "/_allauth/app/v1/auth/login", {"phone": phone, "password": DEFAULT_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


@pytest.fixture
def patient(db):
    return PatientFactory(user=UserFactory(phone="13800138000"))


@pytest.fixture
def api(client, patient):
    client.force_login(patient.user)
    return client


def booked_session(patient):
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    session = make_session(doctor=doctor, places=2)
    return book_slot(user=patient.user, patient=patient, slot=session.slots.get())


# Authentication -------------------------------------------------------------------------------


def test_the_app_token_from_allauth_authenticates_the_api(patient):
    client = Client()
    token = app_token(client, "13800138000")
    response = Client().get(URL, HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [patient.pk]


def test_no_token_is_a_401_with_a_code():
    response = Client().get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "X-Session-Token"


def test_a_stale_token_is_a_401(patient):
    response = Client().get(URL, HTTP_X_SESSION_TOKEN="not-a-token")
    assert response.status_code == 401
    assert set(response.json()) >= {"code", "detail"}


def test_a_token_of_a_session_that_ended_is_a_401(patient):
    """The token is looked up with one session read (accounts.headless): a logged-out or expired
    session must still be refused, from the cache and from the database alike."""
    from django.contrib.sessions.models import Session
    from django.core.cache import cache
    from django.utils import timezone

    logged_out = app_token(Client(), "13800138000")
    assert Client().get(URL, HTTP_X_SESSION_TOKEN=logged_out).status_code == 200
    ended = Client().delete("/_allauth/app/v1/auth/session", HTTP_X_SESSION_TOKEN=logged_out)
    assert ended.status_code == 401  # allauth's answer to a logout: no longer authenticated
    assert Client().get(URL, HTTP_X_SESSION_TOKEN=logged_out).status_code == 401

    expired = app_token(Client(), "13800138000")
    Session.objects.filter(session_key=expired).update(expire_date=timezone.now())
    cache.clear()
    assert Client().get(URL, HTTP_X_SESSION_TOKEN=expired).status_code == 401


def test_the_site_session_works_and_its_writes_need_the_csrf_token(patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(patient.user)
    assert client.get(URL).status_code == 200
    refused = client.post(URL, {}, content_type="application/json")
    assert refused.status_code == 403


def test_a_token_write_needs_no_csrf_token(patient):
    token = app_token(Client(), "13800138000")
    client = Client(enforce_csrf_checks=True)
    response = client.post(URL, {}, content_type="application/json", HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 400  # reached the view: the body is checked, not the CSRF cookie


# Reading --------------------------------------------------------------------------------------


def test_documents_and_phones_are_masked(api, patient):
    row = api.get(URL).json()["results"][0]
    assert row["id_number"] == patient.masked_id_number != patient.id_number
    assert row["phone"] == patient.masked_phone != patient.phone
    assert patient.id_number not in api.get(f"{URL}{patient.pk}/").content.decode()


def test_another_accounts_patient_is_a_404_for_every_method(api):
    other = PatientFactory()
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"{URL}{other.pk}/", {}, content_type="application/json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert Patient.objects.get(pk=other.pk).is_active


def test_the_list_costs_the_same_queries_for_one_or_many(api, patient, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as one:
        api.get(URL)
    PatientFactory.create_batch(5, user=patient.user)
    with django_assert_max_num_queries(len(one)):
        response = api.get(URL)
    assert response.json()["count"] == 6


# Writing --------------------------------------------------------------------------------------


def new_person(**overrides):
    import datetime

    born = datetime.date(2015, 6, 1)
    body = {
        "name": "张小明",
        "gender": "M",
        "birth_date": born.isoformat(),
        "relation": "child",
        "id_number": resident_id_number(birth_date=born, gender="M", order=7),
        "phone": "13912345678",
    }
    return {**body, **overrides}


def test_adding_a_patient_validates_and_masks(api, patient):
    body = new_person()
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["id_number"] != body["id_number"]
    assert response.json()["phone"] == "139****5678"
    assert Patient.objects.get(pk=response.json()["id"]).user == patient.user


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"id_number": "110101201506010070"}, "id_number"),  # wrong check digit
        ({"birth_date": "2015-06-02"}, "birth_date"),
        ({"gender": "F"}, "gender"),
        ({"phone": "12345"}, "phone"),
    ],
)
def test_a_wrong_identity_is_a_400_naming_the_field(api, overrides, field):
    response = api.post(URL, new_person(**overrides), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Patient.objects.filter(name="张小明").exists()


def test_the_same_person_twice_in_one_account_is_refused(api):
    assert api.post(URL, new_person(), content_type="application/json").status_code == 201
    again = api.post(URL, new_person(id_number=new_person()["id_number"].lower()), content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_patient"
    assert Patient.objects.filter(name="张小明").count() == 1


def test_contact_details_change_but_a_recorded_identity_does_not(api, patient):
    url = f"{URL}{patient.pk}/"
    changed = api.patch(url, {"phone": "13700001111", "relation": "other"}, content_type="application/json")
    assert changed.status_code == 200
    assert changed.json()["relation"] == "other"
    locked = api.patch(url, {"name": "换个名字"}, content_type="application/json")
    assert locked.status_code == 409
    assert locked.json()["code"] == "identity_locked"
    patient.refresh_from_db()
    assert patient.name != "换个名字" and patient.phone == "13700001111"


def test_a_patient_never_used_is_deleted(api, patient):
    assert api.delete(f"{URL}{patient.pk}/").status_code == 204
    assert not Patient.objects.filter(pk=patient.pk).exists()


def test_a_patient_with_an_active_appointment_cannot_be_removed(api, patient):
    booked_session(patient)
    response = api.delete(f"{URL}{patient.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "patient_has_appointments"
    assert Patient.objects.get(pk=patient.pk).is_active


def test_a_patient_with_history_is_deactivated_not_deleted(api, patient):
    appointment = booked_session(patient)
    cancel_appointment(user=patient.user, appointment=appointment)
    assert api.delete(f"{URL}{patient.pk}/").status_code == 204
    assert Patient.objects.get(pk=patient.pk).is_active is False
    assert api.get(URL).json()["count"] == 0
    assert api.get(f"{URL}{patient.pk}/").status_code == 404


@pytest.mark.parametrize("token", ["a\x00b", "x" * 5000, "ä"])
def test_a_malformed_token_is_a_401_not_a_server_error(token):
    for url in (URL, "/api/v1/hospitals/"):
        response = Client().get(url, HTTP_X_SESSION_TOKEN=token)
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
