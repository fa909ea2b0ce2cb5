"""The README's three-call Patient API example (log in, book, pay in the sandbox) works as written."""

import itertools
import json
import re
import shlex
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client

from accounts.tests.factories import PatientFactory, UserFactory
from booking.models import Appointment
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def readme_calls() -> list[dict]:
    """Each curl of the "## Patient API" section's shell block: method, path, headers, body."""
    readme = (settings.BASE_DIR / "README.md").read_text()
    section = readme.split("## Patient API\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    calls = []
    for line in block.splitlines():
        if not line.startswith("curl "):
            continue
        words = shlex.split(line)
        call = {"headers": {}, "body": None}
        for flag, value in itertools.pairwise(words):
            if flag == "-X":
                call["method"] = value
            elif flag == "-H":
                name, _, header = value.partition(": ")
                call["headers"][name] = header
            elif flag == "-d":
                call["body"] = value
        call["path"] = urlparse(next(word for word in words if word.startswith("http://127.0.0.1:8000/"))).path
        calls.append(call)
    return calls


def send(client, call, **variables):
    path = call["path"]
    headers = {}
    for name, value in call["headers"].items():
        for var, actual in variables.items():
            path, value = path.replace(f"${var}", actual), value.replace(f"${var}", actual)
        if name.lower() != "content-type":
            headers[name] = value
    return client.generic(
        call["method"], path, call["body"] or "", content_type=call["headers"]["Content-Type"], headers=headers
    )


def test_the_readme_login_book_and_pay_example_runs_as_written(settings):
    settings.PAYMENTS_SANDBOX = True  # `make run` writes PAYMENTS_SANDBOX=1
    login, booking, paying = readme_calls()
    assert [login["path"], booking["path"]] == ["/_allauth/app/v1/auth/login", "/api/v1/appointments/"]
    assert "Idempotency-Key" in booking["headers"] and '"provider": "sandbox"' in paying["body"]

    credentials = json.loads(login["body"])
    user = UserFactory(phone=credentials["phone"], password=credentials["password"])
    documented = json.loads(booking["body"])
    patient = PatientFactory(user=user)
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    slot = make_session(doctor=doctor, places=3).slots.get()
    # The ids are the example's; this database has its own.
    booking = {**booking, "body": json.dumps({**documented, "slot": slot.pk, "patient": patient.pk})}

    client = Client()
    token = send(client, login).json()["meta"]["session_token"]
    booked = send(Client(), booking, TOKEN=token)
    assert booked.status_code == 201, booked.content
    assert send(Client(), booking, TOKEN=token).json() == booked.json()  # the documented retry
    order_no = booked.json()["order_no"]
    paid = send(Client(), paying, TOKEN=token, ORDER_NO=order_no)
    assert paid.status_code == 200, paid.content

    page = urlparse(paid.json()["redirect_url"]).path
    assert Client().post(page).status_code == 302  # 确认支付 on the sandbox page
    appointment = Appointment.objects.get(order_no=order_no)
    assert appointment.status == Appointment.Status.CONFIRMED and appointment.patient == patient
