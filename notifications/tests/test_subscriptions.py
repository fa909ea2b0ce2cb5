"""到号提醒 subscriptions: generic topics, one SMS per subscriber per event, ended on booking."""

import pytest

from accounts.tests.factories import UserFactory
from notifications.models import NotificationLog, Subscription
from notifications.selectors import subscriptions_of
from notifications.services import end_subscriptions, notify_topic, subscribe, unsubscribe

pytestmark = pytest.mark.django_db

PARAMS = {"hospital": "第一医院", "department": "心内科", "doctor": "李明", "session": "12月3日上午"}


def _notify(topic="schedule:1", event="schedule:1"):
    return notify_topic(topic=topic, event=event, template="alert_slot_freed", params=PARAMS)


def test_subscribing_twice_keeps_one():
    user = UserFactory()
    first = subscribe(user=user, topic="doctor:7", label="李明医生")
    assert subscribe(user=user, topic="doctor:7", label="李明医生") == first
    assert Subscription.objects.count() == 1


def test_an_event_sends_one_sms_per_subscriber_however_often_it_is_announced(django_capture_on_commit_callbacks):
    users = UserFactory.create_batch(2, name="张三")
    for user in users:
        subscribe(user=user, topic="schedule:1", label="x")
    with django_capture_on_commit_callbacks(execute=True):
        assert _notify() == 2
        assert _notify() == 0
    logs = NotificationLog.objects.filter(template="alert_slot_freed")
    assert sorted(log.phone for log in logs) == sorted(user.phone for user in users)
    assert all(log.text.startswith("张三，您订阅的到号提醒") for log in logs)
    assert all(s.notified_at is not None and s.notice for s in Subscription.objects.all())


def test_another_event_of_the_topic_is_told_again():
    subscribe(user=UserFactory(), topic="doctor:7", label="x")
    params = {**PARAMS}
    params.pop("session")
    for day in ("12月3日", "12月4日"):
        notify_topic(
            topic="doctor:7", event=f"doctor:7:{day}", template="alert_day_released", params={**params, "day": day}
        )
    assert NotificationLog.objects.filter(template="alert_day_released").count() == 2


def test_ended_and_other_topics_are_not_told():
    user = UserFactory()
    subscribe(user=user, topic="schedule:1", label="x")
    subscribe(user=UserFactory(), topic="schedule:2", label="x")
    assert end_subscriptions(user_id=user.pk, topics=["schedule:1", "doctor:9"]) == 1
    assert _notify() == 0
    assert not NotificationLog.objects.exists()


def test_only_the_subscriber_can_stop_it():
    user = UserFactory()
    subscription = subscribe(user=user, topic="doctor:7", label="x")
    assert not unsubscribe(user=UserFactory(), subscription_id=subscription.pk)
    assert unsubscribe(user=user, subscription_id=subscription.pk)
    subscription.refresh_from_db()
    assert subscription.end_reason == "cancelled"
    # Stopped, it may be started again.
    assert subscribe(user=user, topic="doctor:7", label="x").pk != subscription.pk


def test_the_list_shows_active_ones_first():
    user = UserFactory()
    old = subscribe(user=user, topic="doctor:1", label="x")
    end_subscriptions(user_id=user.pk, topics=["doctor:1"])
    active = subscribe(user=user, topic="doctor:2", label="y")
    assert list(subscriptions_of(user=user)) == [active, old]
