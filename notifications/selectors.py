from django.db.models import F, QuerySet

from accounts.pii import phone_hash
from notifications.models import NotificationLog, Subscription


def messages_for_phone(*, phone: str) -> QuerySet[NotificationLog]:
    """Every SMS sent to a number, newest first (exact match through the keyed hash)."""
    return NotificationLog.objects.filter(phone_hash=phone_hash(phone)).order_by("-created_at", "-id")


def subscriptions_of(*, user) -> QuerySet[Subscription]:
    """The account's 到号提醒, active ones first, newest first."""
    return Subscription.objects.filter(user=user).order_by(F("ended_at").desc(nulls_first=True), "-created_at", "-id")
