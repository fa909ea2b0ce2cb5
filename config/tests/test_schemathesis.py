"""Schemathesis against /api/v1/: no input gives a 500, and every answer matches the schema.

Signed in as a patient with data to find (hospital, doctor, published sessions of each policy, a
就诊人, an appointment), a bounded number of examples per operation.
"""

import datetime
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts.tests.factories import DEFAULT_PASSWORD, PatientFactory, UserFactory
from booking.services import book_slot
from config.wsgi import application
from hospital.tests.factories import BookingRulesFactory, DepartmentFactory, DoctorFactory
from scheduling.models import AllocationPolicy
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/v1/")

# More examples for a deeper local run: SCHEMATHESIS_EXAMPLES=200 make test PYTEST_ARGS=…
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


@pytest.fixture
def auth_headers(client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": None, "user": None, "booking": None})
    user = UserFactory(phone="13800138000")
    patient = PatientFactory(user=user)
    doctor = DoctorFactory(registration_fee_fen=1500)
    DepartmentFactory(hospital=doctor.hospital, parent=doctor.departments.first())
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    today = timezone.localdate()
    fcfs = make_session(doctor=doctor, places=3, segments=2, date=today + datetime.timedelta(days=2))
    make_session(doctor=doctor, places=1, date=today + datetime.timedelta(days=3), policy=AllocationPolicy.LOTTERY)
    book_slot(user=user, patient=patient, slot=fcfs.slots.first(), idempotency_key="first")
    response = client.post(
        "/_allauth/app/v1/auth/login",
        {"phone": "13800138000", "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    token = response.json()["meta"]["session_token"]
    assert client.get("/api/v1/patients/", HTTP_X_SESSION_TOKEN=token).status_code == 200  # calls go in signed in
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"X-Session-Token": token}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_patient_api_never_fails_and_keeps_to_its_schema(case, auth_headers):
    case.call_and_validate(
        headers=auth_headers,
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )
