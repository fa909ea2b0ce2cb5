"""The clock's job for analytics: a thin wrapper around a service."""

from celery import shared_task

from analytics import services

# Collected by `manage.py setup_periodic_tasks` into django-celery-beat: (name, task, every N seconds).
BEAT_SCHEDULE = [
    ("analytics: flush booking attempt counters", "analytics.tasks.flush_attempt_counts_task", 60),
]


@shared_task
def flush_attempt_counts_task() -> int:
    return services.flush_attempt_counts()
