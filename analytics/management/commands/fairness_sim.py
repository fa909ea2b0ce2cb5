from django.core.management.base import BaseCommand, CommandError

from analytics import charts, fairness
from analytics.charts import POLICY_LABELS, URGENCY_LABELS


class Command(BaseCommand):
    help = (
        "Simulate repeated releases under one allocation policy and report success by age band, urgency and "
        "client speed, the fastest tenth's share of the places and Jain's fairness index (deterministic per seed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--policy", choices=fairness.POLICIES, required=True)
        parser.add_argument("--patients", type=int, required=True)
        parser.add_argument("--places", type=int, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--rounds", type=int, default=fairness.DEFAULT_ROUNDS, help="weekly releases simulated")
        parser.add_argument("--chart", help="write the chart as a PNG file here")

    def handle(self, *args, **options):
        if options["patients"] < 1 or options["places"] < 0 or options["rounds"] < 1:
            raise CommandError("--patients and --rounds must be ≥ 1, --places ≥ 0")
        if options["patients"] > 200_000:
            raise CommandError("--patients is limited to 200000")
        report = fairness.simulate_release(
            policy=options["policy"],
            patients=options["patients"],
            places=options["places"],
            seed=options["seed"],
            rounds=options["rounds"],
        )
        write = self.stdout.write
        write(
            f"policy {report.policy} ({POLICY_LABELS[report.policy]}): {report.patients} patients, "
            f"{report.places} places, {report.rounds} releases, seed {report.seed}"
        )
        write(f"success rate overall: {report.success_rate:.3f}")
        for band, rate in report.by_age_band.items():
            write(f"  age {band:>6} ({report.patients_by_age_band[band]:>5} patients): {rate:.3f}")
        for urgency, rate in report.by_urgency.items():
            write(f"  urgency {URGENCY_LABELS[urgency]}: {rate:.3f}")
        write("by client-speed decile (1 = fastest): " + " ".join(f"{r:.3f}" for r in report.by_speed_decile))
        write(f"share of places won by the fastest 10% of clients: {report.fastest_tenth_share:.3f}")
        write(
            f"Jain's fairness index: {report.jain_index:.3f} (a uniform draw over {report.rounds} "
            f"releases scores {report.jain_of_a_fair_draw:.3f})"
        )
        if options["chart"]:
            with open(options["chart"], "wb") as out:
                out.write(charts.fairness_chart([report]))
            write(f"chart: {options['chart']}")
