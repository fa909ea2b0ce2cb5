"""Password logins are locked after repeated failures (django-axes), per phone and per address;
superusers unlock. The user admin shows the password only as its read-only hash summary and
checks new passwords with the validators."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD, StaffUserFactory, UserFactory
from hospital.tests.factories import HospitalStaffFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
APP_LOGIN = "/_allauth/app/v1/auth/login"
LOCKED_TEXT = "登录失败次数过多"
LIMIT = settings.AXES_FAILURE_LIMIT


def admin_login(client, phone, password, ip="198.51.100.7"):
    return client.post(LOGIN, {"username": phone, "password": password}, REMOTE_ADDR=ip)


def fail(client, phone, times, ip="198.51.100.7"):
    for _attempt in range(times):
        response = admin_login(client, phone, "wrong-password", ip=ip)
        assert response.status_code in (200, 429)


@pytest.fixture
def staff_user():
    return StaffUserFactory(phone="13912345678", is_superuser=True)


def test_the_limit_is_small():
    assert 3 <= LIMIT <= 10


def test_after_the_limit_the_right_password_is_refused_with_a_chinese_message(client, staff_user):
    fail(client, "13912345678", LIMIT)
    response = admin_login(client, "13912345678", DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    assert client.get("/admin/").status_code == 302  # not logged in


def test_thirty_wrong_passwords_then_the_right_one_stays_refused(client, staff_user):
    fail(client, "13912345678", 30)
    assert admin_login(client, "13912345678", DEFAULT_PASSWORD).status_code == 429


def test_the_phone_is_locked_however_it_is_typed_and_from_any_address(client, staff_user):
    for index, typed in enumerate(["13912345678", "+86 139 1234 5678", "+8613912345678", "139-1234-5678"] * 2):
        if index >= LIMIT:
            break
        admin_login(client, typed, "wrong-password", ip=f"198.51.100.{index + 10}")
    response = admin_login(client, "13912345678", DEFAULT_PASSWORD, ip="192.0.2.200")
    assert response.status_code == 429


def test_one_address_is_locked_across_phones(client, staff_user):
    for index in range(LIMIT):
        admin_login(client, f"1370000{index:04d}", "wrong-password", ip="203.0.113.9")
    assert admin_login(client, "13912345678", DEFAULT_PASSWORD, ip="203.0.113.9").status_code == 429
    other = client.__class__()
    assert admin_login(other, "13912345678", DEFAULT_PASSWORD, ip="192.0.2.1").status_code == 302


def test_failures_below_the_limit_still_let_the_right_password_in(client, staff_user):
    fail(client, "13912345678", LIMIT - 1)
    assert admin_login(client, "13912345678", DEFAULT_PASSWORD).status_code == 302


def test_behind_a_proxy_the_address_comes_from_its_header(client, staff_user, settings):
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_REAL_IP", "REMOTE_ADDR")
    for _attempt in range(LIMIT):
        client.post(
            LOGIN, {"username": "13700000000", "password": "x"}, REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="203.0.113.5"
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    other = client.__class__()
    response = other.post(
        LOGIN,
        {"username": "13912345678", "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_REAL_IP="192.0.2.8",
    )
    assert response.status_code == 302  # another client behind the same proxy is not locked


def test_phones_are_not_stored_in_clear(client, staff_user):
    fail(client, "13912345678", 2)
    assert AccessAttempt.objects.exists()
    assert not AccessAttempt.objects.filter(username__contains="13912345678").exists()
    assert "13912345678" not in "".join(AccessAttempt.objects.values_list("post_data", flat=True))


def test_a_superuser_unlocks_in_the_admin(client, admin_client, staff_user):
    fail(client, "13912345678", LIMIT)
    assert admin_login(client, "13912345678", DEFAULT_PASSWORD).status_code == 429
    listing = admin_client.get("/admin/axes/accessattempt/", {"q": "+86 139 1234 5678"})
    assert listing.status_code == 200
    attempts = list(listing.context["cl"].result_list)
    assert attempts
    response = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [a.pk for a in attempts], "post": "yes"},
    )
    assert response.status_code == 302
    assert admin_login(client, "13912345678", DEFAULT_PASSWORD).status_code == 302


def test_hospital_staff_cannot_see_or_clear_login_attempts(client, staff_user):
    fail(client.__class__(), "13912345678", 2)
    client.force_login(HospitalStaffFactory().user)
    assert client.get("/admin/axes/accessattempt/").status_code == 403
    assert client.get("/admin/axes/accesslog/").status_code == 403


def test_the_app_login_works_with_the_lockout_and_is_locked_by_it(client):
    UserFactory(phone="13812345678")
    credentials = {"phone": "+8613812345678", "password": DEFAULT_PASSWORD}
    ok = client.post(APP_LOGIN, credentials, content_type="application/json")
    assert ok.status_code == 200
    other = client.__class__()
    fail(other, "13812345678", LIMIT)
    response = other.post(APP_LOGIN, credentials, content_type="application/json")
    assert response.status_code == 429
    assert response.json()["code"] == "login_locked"
    assert LOCKED_TEXT in response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# The user admin's password fields


def test_the_change_form_shows_the_hash_read_only_with_a_change_link(admin_client):
    user = UserFactory(phone="13812345678")
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert user.password not in html
    assert "../password/" in html
    form = page.context["adminform"].form
    assert form.fields["password"].disabled
    before = user.password
    data = {"phone": "13812345678", "name": user.name, "password": "plain-text", "is_active": "on"}
    data |= {"date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    user.refresh_from_db()
    assert user.password == before


def test_the_change_password_page_runs_the_validators(admin_client):
    user = UserFactory(phone="13812345678")
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"password1": "12345678", "password2": "12345678"}
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("password", ["1234567", "12345678", "password"])
def test_adding_a_user_runs_the_password_validators(admin_client, password):
    data = {"phone": "13812345678", "name": "孙七", "password": password}
    response = admin_client.post("/admin/accounts/user/add/", data)
    assert response.status_code == 200
    assert "password" in response.context["adminform"].form.errors
    assert not User.objects.filter(name="孙七").exists()
