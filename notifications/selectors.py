from django.db.models import QuerySet

from accounts.pii import phone_hash
from notifications.models import NotificationLog


def messages_for_phone(*, phone: str) -> QuerySet[NotificationLog]:
    """Every SMS sent to a number, newest first (exact match through the keyed hash)."""
    return NotificationLog.objects.filter(phone_hash=phone_hash(phone)).order_by("-created_at", "-id")
