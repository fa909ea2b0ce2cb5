"""Account pages are phone-first: no e-mail page on the way, password reset by SMS code, 验证码 wording."""

import logging
import re

import pytest
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

E_MAIL_WORDS = ("Email", "email", "邮箱", "电子邮件", "邮件")


@pytest.fixture
def sms(caplog, django_capture_on_commit_callbacks):
    """Posts a form and returns the response and the SMS texts it sent (console backend, on commit)."""
    caplog.set_level(logging.INFO, logger="notifications")

    def post(client, url, data):
        caplog.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data)
        return response, [
            r.getMessage() for r in caplog.records if r.name == "notifications" and "SMS" in r.getMessage()
        ]

    return post


def code_in(texts: list[str]) -> str:
    (text,) = [t for t in texts if "验证码为" in t]
    return re.search(r"验证码为(\d{6})", text).group(1)


def test_account_home_is_the_profile_or_the_login(client):
    assert client.get("/accounts/")["Location"] == reverse("account_login")
    client.force_login(UserFactory())
    response = client.get("/accounts/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("profile")
    page = response.content.decode()
    assert "手机号" in page
    assert not any(word in page for word in E_MAIL_WORDS)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/email/",
        "/accounts/confirm-email/",
        "/accounts/password/reset/done/",
        "/accounts/password/reset/key/1-set-password/",
    ],
)
def test_e_mail_pages_lead_back_to_the_phone_pages(client, path):
    client.force_login(UserFactory())
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("profile")


def test_password_reset_asks_for_the_phone_not_an_e_mail(client):
    page = client.get(reverse("account_reset_password")).content.decode()
    assert 'name="phone"' in page
    assert 'type="email"' not in page
    assert not any(word in page for word in E_MAIL_WORDS)


def test_password_reset_by_sms_code_sets_the_new_password(client, sms):
    user = UserFactory(phone="13812345678")
    response, texts = sms(client, reverse("account_reset_password"), {"phone": "138 1234 5678"})
    assert response["Location"] == reverse("account_reset_password_by_phone_confirm")
    code = code_in(texts)

    response = client.post(
        response["Location"], {"code": code, "password1": "Fresh-pass-2468", "password2": "Fresh-pass-2468"}
    )
    assert response["Location"] == reverse("account_login")
    user.refresh_from_db()
    assert user.check_password("Fresh-pass-2468")
    assert not user.check_password(DEFAULT_PASSWORD)
    # The code is spent.
    again = client.post(
        reverse("account_reset_password_by_phone_confirm"),
        {"code": code, "password1": "Other-pass-1357", "password2": "Other-pass-1357"},
    )
    assert again["Location"] == reverse("account_reset_password")


def test_password_reset_runs_the_password_validators(client, sms):
    UserFactory(phone="13812345678")
    _response, texts = sms(client, reverse("account_reset_password"), {"phone": "13812345678"})
    response = client.post(
        reverse("account_reset_password_by_phone_confirm"),
        {"code": code_in(texts), "password1": "123", "password2": "123"},
    )
    assert response.status_code == 200
    assert "password1" in response.context["form"].errors


def test_wrong_codes_end_the_reset_after_the_allowed_attempts(client, sms):
    user = UserFactory(phone="13812345678")
    _response, texts = sms(client, reverse("account_reset_password"), {"phone": "13812345678"})
    right = code_in(texts)
    wrong = "000000" if right != "000000" else "111111"
    url = reverse("account_reset_password_by_phone_confirm")
    data = {"code": wrong, "password1": "Fresh-pass-2468", "password2": "Fresh-pass-2468"}
    assert client.post(url, data).status_code == 200
    assert client.post(url, data).status_code == 200
    assert client.post(url, data)["Location"] == reverse("account_reset_password")
    response = client.post(url, {**data, "code": right})
    assert response["Location"] == reverse("account_reset_password")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_for_an_unknown_number_looks_the_same_and_sets_nothing(client, sms):
    known = client.__class__()
    UserFactory(phone="13812345678")
    known_answer, known_texts = sms(known, reverse("account_reset_password"), {"phone": "13812345678"})
    unknown_answer, unknown_texts = sms(client, reverse("account_reset_password"), {"phone": "13887654321"})
    assert known_answer.status_code == unknown_answer.status_code == 302
    assert known_answer["Location"] == unknown_answer["Location"]
    assert len(known_texts) == len(unknown_texts) == 1
    assert "尚未注册" in unknown_texts[0]
    url = unknown_answer["Location"]
    assert client.get(url).status_code == known.get(url).status_code == 200
    response = client.post(url, {"code": "123456", "password1": "Fresh-pass-2468", "password2": "Fresh-pass-2468"})
    assert response.status_code == 200
    assert "验证码错误" in response.content.decode()


def phone_pages(client, sms) -> dict[str, str]:
    """Every account page a phone user meets, as rendered."""
    pages = {}
    for name in ["account_login", "account_signup", "account_request_login_code", "account_reset_password"]:
        pages[name] = client.get(reverse(name)).content.decode()
    UserFactory(phone="13812345678")
    sms(client, reverse("account_request_login_code"), {"phone": "13812345678"})
    pages["account_confirm_login_code"] = client.get(reverse("account_confirm_login_code")).content.decode()
    signup = client.__class__()
    sms(signup, reverse("account_signup"), {"phone": "13887654321"})
    pages["account_verify_phone"] = signup.get(reverse("account_verify_phone")).content.decode()
    sms(client, reverse("account_reset_password"), {"phone": "13812345678"})
    pages["account_reset_password_by_phone_confirm"] = client.get(
        reverse("account_reset_password_by_phone_confirm")
    ).content.decode()
    member = client.__class__()
    member.force_login(UserFactory())
    pages["account_change_phone"] = member.get(reverse("account_change_phone")).content.decode()
    return pages


def test_account_pages_say_verification_code_never_code_or_e_mail(client, sms):
    pages = phone_pages(client, sms)
    for name, page in pages.items():
        text = re.sub(r"<[^>]+>", " ", page)
        assert "代码" not in text, name
        assert not any(word in text for word in E_MAIL_WORDS), name
    for name in ["account_confirm_login_code", "account_verify_phone", "account_reset_password_by_phone_confirm"]:
        assert "验证码" in pages[name], name
