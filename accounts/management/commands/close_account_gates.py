"""Send app tokens back to the database after accounts were changed around save() (accounts.headless)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.headless import close_gate

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Close the gates of the given accounts (all accounts without ids), so that their app tokens are "
        "checked against the database again: after a QuerySet.update, raw SQL or a data migration changed "
        "passwords or deactivated accounts."
    )

    def add_arguments(self, parser):
        parser.add_argument("user_ids", nargs="*", type=int, help="account ids (default: every account)")

    def handle(self, *args, user_ids, **options):
        ids = user_ids or get_user_model()._default_manager.values_list("pk", flat=True).iterator(chunk_size=BATCH)
        closed = 0
        for user_id in ids:
            close_gate(user_id)
            closed += 1
        self.stdout.write(f"closed the gates of {closed} accounts")
