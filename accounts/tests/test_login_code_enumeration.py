"""Asking for a login code tells nothing about whether the number has an account.

Both a known and an unknown number get the same answer, run the same kinds of queries and queue
one SMS each (the code, or a note that no account uses the number): the same work, so the same
time, without measuring time.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import UserFactory
from notifications.models import NotificationLog

pytestmark = pytest.mark.django_db

KNOWN, UNKNOWN = "13812345678", "13887654321"


def query_shapes(queries) -> list[str]:
    """Each statement with its literal values taken out, so two runs for two numbers compare."""
    shapes = []
    for query in queries:
        sql = re.sub(r'"s\d+_x\d+"', "?", query["sql"])  # savepoint names
        sql = re.sub(r"'[^']*'", "?", sql)
        sql = re.sub(r"\b\d+\b", "?", sql)
        shapes.append(sql)
    return shapes


def ask_for_a_code(client, django_capture_on_commit_callbacks, *, url, data, **extra):
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, data, **extra)
    return response, query_shapes(queries.captured_queries), len(callbacks)


@pytest.fixture
def known(db):
    return UserFactory(phone=KNOWN)


def test_the_web_page_answers_and_works_the_same_for_known_and_unknown_numbers(
    client, known, django_capture_on_commit_callbacks
):
    url = reverse("account_request_login_code")
    known_answer, known_queries, known_queued = ask_for_a_code(
        client, django_capture_on_commit_callbacks, url=url, data={"phone": KNOWN}
    )
    other = client.__class__()
    unknown_answer, unknown_queries, unknown_queued = ask_for_a_code(
        other, django_capture_on_commit_callbacks, url=url, data={"phone": UNKNOWN}
    )

    assert (known_answer.status_code, known_answer["Location"]) == (302, reverse("account_confirm_login_code"))
    assert (unknown_answer.status_code, unknown_answer["Location"]) == (302, reverse("account_confirm_login_code"))
    assert known_queued == unknown_queued == 2  # the SMS, then its delivery
    assert sorted(known_queries) == sorted(unknown_queries)
    sent = dict(NotificationLog.objects.values_list("phone_hash", "template"))
    assert sorted(sent.values()) == ["account_unknown", "verification_code"]
    # The confirmation pages look alike too.
    assert client.get(known_answer["Location"]).status_code == other.get(unknown_answer["Location"]).status_code


def test_the_app_api_answers_and_works_the_same_for_known_and_unknown_numbers(
    client, known, django_capture_on_commit_callbacks
):
    url = "/_allauth/app/v1/auth/code/request"
    answers, works = [], []
    for phone in (KNOWN, UNKNOWN):
        response, queries, queued = ask_for_a_code(
            client.__class__(),
            django_capture_on_commit_callbacks,
            url=url,
            data={"phone": phone},
            content_type="application/json",
        )
        body = response.json()
        body.get("meta", {}).pop("session_token", None)
        answers.append((response.status_code, body))
        works.append((sorted(queries), queued))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401  # a code flow is pending in both cases
    assert works[0] == works[1]
    assert works[0][1] == 2


@pytest.mark.parametrize(
    "path", ["notifications.services.no_such_sender", "no_such_module.send", "accounts.phones.__doc__"]
)
def test_a_bad_sms_sender_setting_fails_the_system_checks(settings, path):
    from django.core.checks import run_checks

    settings.ACCOUNTS_SMS_SENDER = path
    assert "accounts.E001" in {message.id for message in run_checks()}


def test_the_configured_sms_sender_passes_the_system_checks():
    from django.core.checks import run_checks

    assert "accounts.E001" not in {message.id for message in run_checks()}


def test_signing_up_with_a_taken_number_looks_like_a_new_sign_up(client, known, django_capture_on_commit_callbacks):
    url = reverse("account_signup")
    taken_answer, _queries, taken_queued = ask_for_a_code(
        client, django_capture_on_commit_callbacks, url=url, data={"phone": KNOWN}
    )
    fresh_answer, _queries, fresh_queued = ask_for_a_code(
        client.__class__(), django_capture_on_commit_callbacks, url=url, data={"phone": UNKNOWN}
    )
    assert (taken_answer.status_code, taken_answer["Location"]) == (fresh_answer.status_code, fresh_answer["Location"])
    assert taken_queued == fresh_queued
    assert sorted(NotificationLog.objects.values_list("template", flat=True)) == ["account_exists", "verification_code"]


def test_asking_for_a_password_reset_code_works_the_same_for_known_and_unknown_numbers(
    client, known, django_capture_on_commit_callbacks
):
    url = reverse("account_reset_password")
    runs = [
        ask_for_a_code(client.__class__(), django_capture_on_commit_callbacks, url=url, data={"phone": phone})
        for phone in (KNOWN, UNKNOWN)
    ]
    (known_answer, known_queries, known_queued), (unknown_answer, unknown_queries, unknown_queued) = runs
    assert (known_answer.status_code, known_answer["Location"]) == (
        unknown_answer.status_code,
        unknown_answer["Location"],
    )
    assert sorted(known_queries) == sorted(unknown_queries)
    assert known_queued == unknown_queued == 2
