"""The app token's account without a row read per request (accounts.headless): the gate.

Whatever the gate remembers, a token is refused the moment its account could no longer sign in:
a new password, deactivation, deletion, logout.
"""

import copy
import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.headless import GATE_CLOSED, SignedInUser, authenticate_app_token, close_gate, gate_keys
from accounts.models import Patient
from accounts.tests.factories import PatientFactory, UserFactory
from accounts.tests.test_api import app_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"
PHONE = "13800138000"


@pytest.fixture
def patient(db):
    return PatientFactory(user=UserFactory(phone=PHONE))


def users_read(queries) -> int:
    return sum('FROM "accounts_user"' in query["sql"] for query in queries)


def get(token):
    return Client().get(URL, HTTP_X_SESSION_TOKEN=token)


def test_after_the_first_call_a_token_reads_no_user_row(patient):
    token = app_token(Client(), PHONE)
    with CaptureQueriesContext(connection) as first:
        assert get(token).status_code == 200
    with CaptureQueriesContext(connection) as second:
        response = get(token)
    assert response.status_code == 200 and [row["id"] for row in response.json()["results"]] == [patient.pk]
    assert users_read(first.captured_queries) == 1
    assert users_read(second.captured_queries) == 0, second.captured_queries


@pytest.mark.parametrize("change", ["password", "deactivated", "deleted"])
def test_a_change_to_the_account_refuses_its_token_at_once(patient, change):
    token = app_token(Client(), PHONE)
    assert get(token).status_code == 200 and get(token).status_code == 200  # the gate is open
    user = get_user_model().objects.get(pk=patient.user_id)
    if change == "password":
        user.set_password("a-new-password-1")
        user.save()
    elif change == "deactivated":
        user.is_active = False
        user.save(update_fields=["is_active"])
    else:
        Patient.objects.filter(user=user).delete()  # 就诊人 protect their account
        user.delete()
    assert get(token).status_code == 401
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2), tick=False):  # the gate reopens...
        assert get(token).status_code == 401  # ...only for what the database accepts


def test_a_login_stamp_leaves_the_gate_open_and_other_saves_close_it(patient):
    token = app_token(Client(), PHONE)
    get(token)
    key = gate_keys(patient.user_id)[next(iter(gate_keys(patient.user_id)))]
    opened = {k: v for k, v in cache.get_many(gate_keys(patient.user_id).values()).items() if v != GATE_CLOSED}
    assert opened, "the first call opened the gate for its backend"
    user = patient.user
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    assert cache.get_many(opened) == opened
    user.name = "改名"
    user.save()
    assert set(cache.get_many(gate_keys(patient.user_id).values()).values()) == {GATE_CLOSED}
    assert cache.get(key) == GATE_CLOSED


def test_a_request_that_read_the_old_row_cannot_reopen_a_closed_gate(patient):
    """The race the closed gate is for: a request read the row before a change and writes its (old)
    hash after the change closed the gate, even while the change's transaction stays open minutes."""
    token = app_token(Client(), PHONE)
    old_hash = patient.user.get_session_auth_hash()
    close_gate(patient.user_id)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=9), tick=False):
        for key in gate_keys(patient.user_id).values():
            assert cache.add(key, old_hash, 600) is False
    with CaptureQueriesContext(connection) as queries:
        assert authenticate_app_token(token) is not None
    assert users_read(queries.captured_queries) == 1  # still the database's answer


def test_a_session_whose_hash_is_not_the_gates_goes_to_the_database(patient):
    from django.contrib.auth import HASH_SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    token = app_token(Client(), PHONE)
    assert get(token).status_code == 200
    session = SessionStore(token)
    session[HASH_SESSION_KEY] = "0" * 64  # a session from before some password
    session.save()
    assert get(token).status_code == 401


def test_the_signed_in_user_passes_for_the_account_and_reads_its_row_once_when_asked(patient):
    user = SignedInUser(patient.user_id)
    with CaptureQueriesContext(connection) as queries:
        assert isinstance(user, get_user_model()) and user and user.is_authenticated and not user.is_anonymous
        assert list(Patient.objects.filter(user=user).values_list("pk", flat=True)) == [patient.pk]
        assert user.pk == user.id == patient.user_id
        clone = copy.copy(user)
    assert users_read(queries.captured_queries) == 0 and clone.pk == patient.user_id
    with CaptureQueriesContext(connection) as queries:
        assert user.phone == PHONE and user.name == patient.user.name and user == patient.user
    assert users_read(queries.captured_queries) == 1
    assert Patient(user=user, name="x").user_id == patient.user_id


def test_an_unknown_token_and_a_logged_out_one_are_refused_with_the_gate_open(patient):
    token = app_token(Client(), PHONE)
    get(token)
    assert Client().delete("/_allauth/app/v1/auth/session", HTTP_X_SESSION_TOKEN=token).status_code == 401
    assert get(token).status_code == 401
    assert get("x" * 32).status_code == 401


def test_once_read_the_signed_in_users_is_active_is_the_rows(patient):
    user = SignedInUser(patient.user_id)
    assert user.is_active is True  # the gate opens for active accounts only
    user.is_active = False  # reads the row, then sets it there
    assert user.is_active is False


def test_a_new_secret_key_sends_every_token_back_to_the_database(patient, settings):
    token = app_token(Client(), PHONE)
    assert get(token).status_code == 200 and get(token).status_code == 200  # the gate is open
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40  # the old one dropped, not kept as a fallback
    settings.SECRET_KEY_FALLBACKS = []
    assert get(token).status_code == 401  # its hash was made with the old key


def test_a_change_around_save_reaches_tokens_after_close_account_gates(patient):
    from django.core.management import call_command

    token = app_token(Client(), PHONE)
    assert get(token).status_code == 200 and get(token).status_code == 200
    get_user_model().objects.filter(pk=patient.user_id).update(is_active=False)  # no signal
    call_command("close_account_gates", str(patient.user_id))
    assert get(token).status_code == 401
    call_command("close_account_gates")  # every account
    assert set(cache.get_many(gate_keys(patient.user_id).values()).values()) == {GATE_CLOSED}
