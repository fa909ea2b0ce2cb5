import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payments.services import reconcile_day


def _local_date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--date must be YYYY-MM-DD, got {text!r}") from exc


class Command(BaseCommand):
    help = (
        "Query the providers for every payment created on a local (Asia/Shanghai) day that is not final, "
        "repair mismatches and print a report."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="local day YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, **options):
        day = _local_date(options["date"]) if options["date"] else timezone.localdate() - datetime.timedelta(days=1)
        report = reconcile_day(day=day)
        out = self.stdout
        out.write(f"Reconciliation for {report.day.isoformat()}")
        out.write(f"  payments checked: {report.checked}")
        out.write(f"  settled (paid at provider, missing here): {len(report.settled)}")
        for line in report.settled:
            out.write(f"    paid    {line}")
        out.write(f"  closed (closed at provider): {len(report.closed)}")
        for line in report.closed:
            out.write(f"    closed  {line}")
        out.write(f"  still waiting for the payer: {report.still_open}")
        out.write(f"  refunds checked: {report.refunds_checked}")
        out.write(f"  refunds completed: {len(report.refunds_succeeded)}")
        for line in report.refunds_succeeded:
            out.write(f"    refunded {line}")
        out.write(f"  refunds failed: {len(report.refunds_failed)}")
        for line in report.refunds_failed:
            out.write(f"    failed  {line}")
        out.write(f"  errors: {len(report.errors)}")
        for order_no, detail in report.errors:
            self.stderr.write(f"    error   {order_no}: {detail}")
        repaired = len(report.settled) + len(report.closed) + len(report.refunds_succeeded) + len(report.refunds_failed)
        out.write(self.style.SUCCESS(f"Repaired {repaired}, errors {len(report.errors)}."))
