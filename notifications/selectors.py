from django.db.models import QuerySet

from notifications.models import NotificationLog, phone_lookup_hash


def messages_for_phone(*, phone: str) -> QuerySet[NotificationLog]:
    """Every SMS sent to a number, newest first (exact match through the keyed hash)."""
    return NotificationLog.objects.filter(phone_hash=phone_lookup_hash(phone)).order_by("-created_at", "-id")
