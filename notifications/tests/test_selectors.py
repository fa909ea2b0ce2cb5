import pytest

from notifications.selectors import messages_for_phone
from notifications.tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db


def test_messages_for_phone_matches_any_spelling_newest_first():
    older = NotificationLogFactory(phone="13800138000")
    NotificationLogFactory(phone="13900139000")
    newer = NotificationLogFactory(phone="13800138000", template="verification_code", params={"code": "123456"})
    assert list(messages_for_phone(phone="+86 138-0013-8000")) == [newer, older]
