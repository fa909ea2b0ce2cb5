import pytest
from django.urls import reverse

from accounts.models import User
from notifications.tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("13700137000", "pw-for-tests-only"))
    return client


def test_exact_phone_search_finds_the_messages_and_shows_the_number_masked(admin_client):
    NotificationLogFactory(phone="13800138000", params={"patient": "张三", "order_no": "R-MINE", "amount": "1.00"})
    NotificationLogFactory(phone="13900139000", params={"patient": "李四", "order_no": "R-OTHER", "amount": "1.00"})

    response = admin_client.get(reverse("admin:notifications_notificationlog_changelist"), {"q": "138 0013 8000"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "138****8000" in page
    assert "139****9000" not in page
    assert "13800138000" not in page


def test_search_by_dedupe_key(admin_client):
    NotificationLogFactory(phone="13800138000", dedupe_key="visit-reminder:42")
    NotificationLogFactory(phone="13900139000", dedupe_key="visit-reminder:43")

    response = admin_client.get(reverse("admin:notifications_notificationlog_changelist"), {"q": "visit-reminder:42"})

    page = response.content.decode()
    assert "138****8000" in page
    assert "139****9000" not in page


def test_detail_is_read_only_and_masked(admin_client):
    log = NotificationLogFactory(phone="13800138000")

    response = admin_client.get(reverse("admin:notifications_notificationlog_change", args=[log.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "138****8000" in page
    assert "13800138000" not in page
    assert 'name="_save"' not in page
    assert admin_client.get(reverse("admin:notifications_notificationlog_add")).status_code == 403
