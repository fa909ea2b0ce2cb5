"""Signing up and logging in: allauth with a phone number and an SMS code, the admin with a password."""

import json
import logging
import re
from unittest.mock import patch

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.adapter import AccountAdapter
from accounts.tests.factories import DEFAULT_PASSWORD, StaffUserFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_codes(caplog, django_capture_on_commit_callbacks):
    """Codes as the console SMS backend logs them, after the adapter's on-commit send has run.

    The adapter hands the code to notifications.services.send_sms on commit; the delivery task
    runs eagerly in tests and the console backend writes the text to the "notifications" log.
    """
    caplog.set_level(logging.INFO, logger="notifications")

    def post(client, url, data):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data)
        texts = [
            r.getMessage()
            for r in caplog.records
            if r.name == "notifications" and "verification_code" in r.getMessage()
        ]
        codes = [re.search(r"验证码为(\d{6})", text).group(1) for text in texts]
        caplog.clear()
        return response, codes

    return post


def logged_in_user(client):
    return client.get("/").wsgi_request.user


def test_signup_with_a_phone_number_sends_a_code_and_verifying_it_logs_in(client, sms_codes):
    response, codes = sms_codes(client, reverse("account_signup"), {"phone": "138 1234 5678"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_verify_phone")
    assert len(codes) == 1

    response = client.post(reverse("account_verify_phone"), {"code": codes[0]})
    assert response.status_code == 302
    user = User.objects.get_by_phone("13812345678")
    assert user.phone_verified
    assert logged_in_user(client) == user


def test_signup_code_is_six_digits_and_a_wrong_one_is_refused(client, sms_codes):
    _response, codes = sms_codes(client, reverse("account_signup"), {"phone": "13812345678"})
    wrong = "000000" if codes[0] != "000000" else "111111"
    response = client.post(reverse("account_verify_phone"), {"code": wrong})
    assert response.status_code == 200
    assert not logged_in_user(client).is_authenticated


def test_signup_refuses_a_number_outside_the_mainland_format(client):
    response = client.post(reverse("account_signup"), {"phone": "+12025550123"})
    assert response.status_code == 200
    assert "中国大陆手机号码" in response.content.decode()
    assert not User.objects.exists()


def test_login_by_code(client, sms_codes):
    user = UserFactory(phone="13812345678")
    response, codes = sms_codes(client, reverse("account_request_login_code"), {"phone": "13812345678"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert len(codes) == 1

    response = client.post(reverse("account_confirm_login_code"), {"code": codes[0]})
    assert response.status_code == 302
    assert logged_in_user(client) == user


def test_login_page_takes_the_phone_and_password(client):
    user = UserFactory(phone="13812345678")
    response = client.post(reverse("account_login"), {"login": "138 1234 5678", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert logged_in_user(client) == user


def test_login_page_refuses_a_wrong_password_in_plain_chinese(client):
    UserFactory(phone="13812345678")
    response = client.post(reverse("account_login"), {"login": "13812345678", "password": "not-the-password"})
    assert response.status_code == 200
    assert "手机号或密码不正确" in response.content.decode()
    assert not logged_in_user(client).is_authenticated


def test_login_page_offers_password_and_sms_code_as_two_named_ways(client):
    page = client.get(reverse("account_login")).content.decode()
    assert 'name="password"' in page
    assert "用密码登录" in page
    assert f'href="{reverse("account_request_login_code")}"' in page
    assert "用短信验证码登录" in page


def test_repeated_signup_within_the_rate_limit_is_429_not_500(client, sms_codes):
    sms_codes(client, reverse("account_signup"), {"phone": "13812345678"})
    other_browser = client.__class__()
    response, codes = sms_codes(other_browser, reverse("account_signup"), {"phone": "13812345678"})
    assert response.status_code == 429
    assert "操作过于频繁" in response.content.decode()
    assert codes == []


def test_admin_accepts_phone_and_password(client):
    StaffUserFactory(phone="13912345678", is_superuser=True)
    response = client.post("/admin/login/?next=/admin/", {"username": "13912345678", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_refuses_a_wrong_password(client):
    StaffUserFactory(phone="13912345678")
    response = client.post("/admin/login/?next=/admin/", {"username": "13912345678", "password": "wrong-password"})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_admin_refuses_a_patient_account(client):
    UserFactory(phone="13912345678")
    client.post("/admin/login/?next=/admin/", {"username": "13912345678", "password": DEFAULT_PASSWORD})
    assert client.get("/admin/").status_code == 302


def test_admin_login_with_a_malformed_phone_is_a_form_error(client):
    response = client.post("/admin/login/", {"username": "not-a-phone", "password": "x"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("account_login", {"login": "abc"}),
        ("account_login", {"login": ""}),
        ("account_signup", {"phone": "1" * 40}),
        ("account_request_login_code", {"phone": "+86 12"}),
        ("account_request_login_code", {"phone": "13812345678"}),  # unknown number
        ("account_verify_phone", {"code": "123456"}),  # no sign-up under way
        ("account_confirm_login_code", {"code": "x"}),
    ],
)
def test_bad_account_input_is_never_a_server_error(client, name, data):
    assert client.post(reverse(name), data).status_code < 500


def test_app_api_logs_in_with_phone_and_password(client):
    UserFactory(phone="13812345678")
    url = "/_allauth/app/v1/auth/login"
    response = client.post(
        url, {"phone": "+8613812345678", "password": DEFAULT_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["meta"]["session_token"]
    wrong = client.post(url, {"phone": "+8613812345678", "password": "wrong"}, content_type="application/json")
    assert wrong.status_code == 400


def readme_app_login_example() -> tuple[str, dict]:
    """The README's curl example for the app API login: its path and its JSON body, as written."""
    readme = (settings.BASE_DIR / "README.md").read_text()
    command = re.search(r"curl [^`]*?/_allauth/app/v1/auth/login[^`]*?-d '([^']*)'", readme)
    assert command, "the README shows an app API login with curl"
    url = re.search(r"http://127\.0\.0\.1:8000(/\S+)", command.group(0)).group(1)
    return url, json.loads(command.group(1))


def test_the_readme_app_api_login_example_works_as_written(client):
    url, body = readme_app_login_example()
    assert body["phone"] == "13800138000"  # the bare mainland number, no +86
    UserFactory(phone=body["phone"], password=body["password"])
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["meta"]["session_token"]


@pytest.mark.parametrize("phone", ["13812345678", "+8613812345678", "+86 138-1234-5678"])
def test_app_api_login_takes_the_number_in_any_mainland_spelling(client, phone):
    UserFactory(phone="13812345678")
    response = client.post(
        "/_allauth/app/v1/auth/login", {"phone": phone, "password": DEFAULT_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("phone", ["12812345678", "+12025550123", "abc", ""])
def test_app_api_login_refuses_a_number_that_is_not_a_mainland_mobile(client, phone):
    UserFactory(phone="13812345678")
    response = client.post(
        "/_allauth/app/v1/auth/login", {"phone": phone, "password": DEFAULT_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["param"] == "phone"


def test_app_api_code_login_as_the_readme_describes(client, django_capture_on_commit_callbacks):
    UserFactory(phone="13800138000")
    sent = []
    with (
        patch.object(AccountAdapter, "send_verification_code_sms", lambda self, **kw: sent.append(kw["code"])),
        django_capture_on_commit_callbacks(execute=True),
    ):
        asked = client.post(
            "/_allauth/app/v1/auth/code/request", {"phone": "13800138000"}, content_type="application/json"
        )
    assert asked.status_code == 401
    token = asked.json()["meta"]["session_token"]
    confirmed = client.post(
        "/_allauth/app/v1/auth/code/confirm",
        {"code": sent[0]},
        content_type="application/json",
        headers={"X-Session-Token": token},
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["meta"]["session_token"] not in ("", token)
