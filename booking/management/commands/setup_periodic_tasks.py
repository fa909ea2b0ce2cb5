import importlib

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from hospital.beat import sync_all_release_entries


def declared_schedule() -> list[tuple[str, str, int]]:
    """Every app's `tasks.BEAT_SCHEDULE`: (name, dotted task, every N seconds)."""
    entries = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.tasks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.tasks":
                raise
            continue
        entries.extend(getattr(module, "BEAT_SCHEDULE", []))
    return entries


class Command(BaseCommand):
    help = "Create or update the clock's periodic jobs in django-celery-beat (idempotent, keyed by name)."

    @transaction.atomic
    def handle(self, *args, **options):
        for name, task, seconds in declared_schedule():
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": interval, "crontab": None, "enabled": True}
            )
            self.stdout.write(f"{name}: {task} every {seconds}s")
        for entry in sync_all_release_entries():
            self.stdout.write(
                f"{entry.name}: {entry.task} at {entry.crontab.hour}:{int(entry.crontab.minute):02d} Asia/Shanghai"
            )
