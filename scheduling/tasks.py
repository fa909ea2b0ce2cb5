from celery import shared_task

from scheduling import services

BEAT_SCHEDULE = [
    ("scheduling: generate upcoming sessions", "scheduling.tasks.generate_upcoming_schedules_task", 3600),
]


@shared_task
def generate_upcoming_schedules_task() -> int:
    return services.generate_upcoming_schedules()
