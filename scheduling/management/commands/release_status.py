from django.core.management.base import BaseCommand
from django.utils import timezone

from hospital.models import Hospital
from scheduling.selectors import release_states


class Command(BaseCommand):
    help = "Print the last 7 days of releases (放号) per hospital: due time, actual time, places; late ones marked."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, days, **options):
        current = None
        for state in release_states(hospitals=Hospital.objects.filter(is_active=True), days=days):
            if state.hospital.pk != current:
                current = state.hospital.pk
                self.stdout.write(f"{state.hospital.name} (#{state.hospital.pk})")
            due = f"{timezone.localtime(state.due_at):%Y-%m-%d %H:%M}"
            if state.release is not None:
                moment = f"{timezone.localtime(state.release.moment):%Y-%m-%d %H:%M:%S}"
                status = "LATE" if state.release.is_late else "ok"
                line = f"  day {state.day} due {due} released {moment} places {state.release.places} {status}"
            elif state.pending:
                line = f"  day {state.day} due {due} not yet due"
            else:
                line = f"  day {state.day} due {due} MISSING" + (" (overdue)" if state.overdue else "")
            self.stdout.write(line)
