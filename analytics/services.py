"""The analytics app's only writes: its own tables (it reads everyone else's)."""

import datetime

from django.db import transaction
from django.db.models import F

from analytics.models import AttemptMinute
from booking import attempts
from scheduling.models import Schedule


@transaction.atomic
def record_attempt_counts(*, counts: list[attempts.AttemptCount]) -> int:
    """Add drained attempt counters to their (schedule, minute) rows; returns the rows touched.

    Counts of a schedule deleted meanwhile are dropped.
    """
    existing = set(Schedule.objects.filter(pk__in={c.schedule_id for c in counts}).values_list("pk", flat=True))
    touched = 0
    for count in counts:
        if count.schedule_id not in existing:
            continue
        minute = datetime.datetime.fromtimestamp(count.minute * 60, tz=datetime.UTC)
        row, created = AttemptMinute.objects.get_or_create(
            schedule_id=count.schedule_id, minute=minute, defaults={"attempts": count.attempts, "won": count.won}
        )
        if not created:
            AttemptMinute.objects.filter(pk=row.pk).update(
                attempts=F("attempts") + count.attempts, won=F("won") + count.won
            )
        touched += 1
    return touched


def flush_attempt_counts(*, now: datetime.datetime | None = None) -> int:
    """Move the cache counters into AttemptMinute; on a failed write they go back to the cache."""
    counts = attempts.drain_counts(now=now.timestamp() if now else None)
    if not counts:
        return 0
    try:
        return record_attempt_counts(counts=counts)
    except Exception:
        attempts.restore_counts(counts)
        raise
