import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from analytics import charts, reports
from hospital.models import Department


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


def _minutes(hours: float | None) -> str:
    return "—" if hours is None else f"{hours * 60:.1f}"


class Command(BaseCommand):
    help = (
        "Queueing report for a department: arrival rates per hour, consultation times, the doctors and "
        "places per segment that keep the mean wait under a target, and the admission-control estimate "
        "of the booking endpoint in the release minute."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hospital", type=int, required=True)
        parser.add_argument("--department", type=int, required=True)
        parser.add_argument("--date-from", type=_date, required=True)
        parser.add_argument("--date-to", type=_date, required=True)
        parser.add_argument("--target-wait", type=float, default=15, help="target mean wait, minutes (15)")
        parser.add_argument("--segment-minutes", type=int, default=30)
        parser.add_argument("--target-p99-ms", type=float, default=500, help="p99 target of 预约, ms (500)")
        parser.add_argument("--arrival-rate", type=float, help="release-minute requests/s (default: measured peak)")
        parser.add_argument("--service-rate", type=float, help="requests/s one web worker serves (default: bench)")
        parser.add_argument("--chart", help="also write the charts as PNG files with this path prefix")

    def handle(self, *args, **options):
        if options["date_to"] < options["date_from"]:
            raise CommandError("--date-to is before --date-from")
        if not Department.objects.filter(pk=options["department"], hospital_id=options["hospital"]).exists():
            raise CommandError("no such department in that hospital")
        if not 1 <= options["segment_minutes"] <= 60:
            raise CommandError("--segment-minutes must lie between 1 and 60")
        for name in ("target_wait", "target_p99_ms", "service_rate", "arrival_rate"):
            if options[name] is not None and options[name] < (0 if name == "arrival_rate" else 1e-9):
                raise CommandError(f"--{name.replace('_', '-')} must be positive")
        report = reports.queue_report(
            hospital_id=options["hospital"],
            department_id=options["department"],
            date_from=options["date_from"],
            date_to=options["date_to"],
            target_wait_minutes=options["target_wait"],
            segment_minutes=options["segment_minutes"],
            target_p99_ms=options["target_p99_ms"],
            arrival_rate=options["arrival_rate"],
            service_rate=options["service_rate"],
        )
        self.print_plan(report.plan)
        self.print_admission(report)
        if options["chart"]:
            prefix = options["chart"]
            with open(f"{prefix}-capacity.png", "wb") as out:
                out.write(charts.capacity_chart(report.plan))
            with open(f"{prefix}-admission.png", "wb") as out:
                out.write(charts.admission_chart(report.admission))
            self.stdout.write(f"charts: {prefix}-capacity.png {prefix}-admission.png")

    def print_plan(self, plan):
        write = self.stdout.write
        write(_("== 门诊排队与号源规划 =="))
        write(
            _("期间 %(start)s – %(end)s：出诊日 %(days)d 天，签到 %(checkins)d 人次，接诊时长样本 %(samples)d 个")
            % {
                "start": plan.date_from,
                "end": plan.date_to,
                "days": plan.clinic_days,
                "checkins": plan.check_ins,
                "samples": plan.service_samples,
            }
        )
        if plan.mean_service_minutes is None:
            write(_("没有完成就诊的记录，无法估计接诊时长。"))
            return
        write(
            _("平均接诊时长 %(minutes).1f 分钟（μ = %(rate).2f 人/小时/医生）；目标平均等候 ≤ %(target)g 分钟")
            % {
                "minutes": plan.mean_service_minutes,
                "rate": plan.service_rate_per_hour,
                "target": plan.target_wait_minutes,
            }
        )
        write(
            f"{'hour':>4} {'λ/h':>7} {'doctors':>8} {'Wq now (min)':>13} {'doctors needed':>15} "
            f"{'places/segment/doctor':>22}"
        )
        for hour in plan.hours:
            now = "unstable" if hour.unstable_now else _minutes(hour.mean_wait_now)
            write(
                f"{hour.hour:>4} {hour.arrival_rate:>7.2f} {hour.doctors_now:>8.2f} {now:>13} "
                f"{hour.doctors_needed if hour.doctors_needed is not None else '—':>15} "
                f"{hour.places_per_segment if hour.places_per_segment is not None else '—':>22}"
            )

    def print_admission(self, report):
        write, estimate, measured = self.stdout.write, report.admission, report.measured
        write("")
        write(_("== 放号时刻的预约请求排队（准入控制，M/M/c） =="))
        write(
            f"release-minute peak: {report.release_peak_per_minute} attempts/min; "
            f"λ = {estimate.arrival_rate:.2f} req/s ({report.arrival_rate_source})"
        )
        write(f"μ = {estimate.service_rate:.2f} req/s per worker ({estimate.service_rate_source})")
        if measured is not None:
            figures = [
                f"{name} {value:g}"
                for name, value in (
                    ("throughput/s", measured.throughput),
                    ("p50 ms", measured.p50_ms),
                    ("p99 ms", measured.p99_ms),
                    ("workers", measured.workers),
                )
                if value is not None
            ]
            write(f"measured ({measured.source}): " + ", ".join(figures))
        if estimate.workers_needed is None:
            write(f"no worker count reaches p99 ≤ {estimate.target_p99_ms:g} ms: one request alone takes longer")
        else:
            write(f"workers for p99 ≤ {estimate.target_p99_ms:g} ms: {estimate.workers_needed}")
        write(f"{'workers':>8} {'ρ':>6} {'P(wait)':>8} {'mean queue ms':>14} {'model p99 ms':>13}")
        for row in estimate.rows:
            if not row["stable"]:
                write(f"{row['workers']:>8} {row['utilisation']:>6.2f}  unstable (ρ ≥ 1: the queue grows all minute)")
                continue
            write(
                f"{row['workers']:>8} {row['utilisation']:>6.2f} {row['p_wait']:>8.3f} "
                f"{row['mean_queue_ms']:>14.1f} {row['p99_ms']:>13.1f}"
            )
