"""The desk's clock job: the dashboard's statistics, counted into the snapshot table."""

from celery import shared_task

from desk import services

# Collected by `manage.py setup_periodic_tasks`: (name, task, every N seconds). Every ten minutes
# keeps today's dashboard current; the first run after midnight gives yesterday its final count.
BEAT_SCHEDULE = [
    ("desk: snapshot statistics", "desk.tasks.snapshot_statistics_task", 600),
]


@shared_task
def snapshot_statistics_task() -> int:
    return services.snapshot_statistics()
