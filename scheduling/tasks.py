from celery import shared_task

from scheduling import services

BEAT_SCHEDULE = [
    ("scheduling: generate upcoming sessions", "scheduling.tasks.generate_upcoming_schedules_task", 3600),
    # The per-hospital crontab entries (hospital.beat) release at the minute; this sweep catches
    # up a run lost to a broker error or a beat that was down, within ten minutes.
    ("scheduling: catch up missed releases", "scheduling.tasks.release_due_task", 600),
]


@shared_task
def generate_upcoming_schedules_task() -> int:
    return services.generate_upcoming_schedules()


@shared_task
def release_day_task(hospital_id: int) -> int:
    """The hospital's daily crontab entry (放号)."""
    return len(services.release_day(hospital_id=hospital_id))


@shared_task
def release_due_task() -> dict:
    return {str(pk): count for pk, count in services.release_due().items()}
