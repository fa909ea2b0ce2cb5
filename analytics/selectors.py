"""Reads behind the reports: the hospital's own data turned into queueing inputs and chances.

Every selector takes the hospital (or doctor) it reads as an argument, so a page cannot forget
to scope. Nothing here writes.
"""

import datetime
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from analytics import queueing
from analytics.models import AttemptMinute
from booking.models import Appointment, BookingRequest, DrawRecord
from hospital.channels import Channel
from scheduling.models import AllocationPolicy, Schedule, Slot

# ---------------------------------------------------------------------------------------------
# Capacity planning from check-ins and completions


@dataclass
class HourPlan:
    """One clock hour of a department's clinic days: what arrives, what is served, what it needs."""

    hour: int
    arrivals: int
    arrival_rate: float  # patients per hour, averaged over the clinic days observed
    doctors_now: float  # doctors in session in that hour, averaged over the clinic days
    mean_wait_now: float | None  # hours (M/M/c with today's doctors); None when unstable or no doctor
    unstable_now: bool
    doctors_needed: int | None
    places_per_segment: int | None  # per doctor, keeping the mean wait under the target with doctors_needed

    @property
    def mean_wait_now_minutes(self) -> float | None:
        return None if self.mean_wait_now is None else self.mean_wait_now * 60


@dataclass
class CapacityPlan:
    hospital_id: int
    department_id: int
    date_from: datetime.date
    date_to: datetime.date
    clinic_days: int
    check_ins: int
    service_samples: int
    mean_service_minutes: float | None
    target_wait_minutes: float
    segment_minutes: int
    hours: list[HourPlan] = field(default_factory=list)

    @property
    def service_rate_per_hour(self) -> float | None:
        return 60 / self.mean_service_minutes if self.mean_service_minutes else None


def service_minutes(visits) -> list[float]:
    """Consultation times (minutes) from check-in and completion times of one doctor's day.

    Check-in → completion is the whole stay (wait + consultation), not the service. A doctor sees
    one patient at a time, so in completion order each consultation starts when both the
    patient has checked in and the previous patient is done: service = completed − max(checked
    in, previous completed). `visits`: (checked_in_at, completed_at) pairs of one doctor and day.
    """
    minutes, previous_done = [], None
    for checked_in, completed in sorted(visits, key=lambda visit: visit[1]):
        start = checked_in if previous_done is None else max(checked_in, previous_done)
        if completed > start:
            minutes.append((completed - start).total_seconds() / 60)
        previous_done = completed
    return minutes


def capacity_plan(
    *,
    hospital_id: int,
    department_id: int,
    date_from: datetime.date,
    date_to: datetime.date,
    target_wait_minutes: float = 15,
    segment_minutes: int = 30,
) -> CapacityPlan:
    """Arrival rates per clock hour (from check-ins), service times (from completions), and the
    doctors and places per segment that keep the mean wait under `target_wait_minutes` (M/M/c)."""
    visits = Appointment.objects.filter(
        hospital_id=hospital_id,
        department_id=department_id,
        visit_date__range=(date_from, date_to),
        checked_in_at__isnull=False,
    ).values_list("doctor_id", "visit_date", "checked_in_at", "completed_at")
    sessions = Schedule.objects.filter(
        department_id=department_id,
        department__hospital_id=hospital_id,
        date__range=(date_from, date_to),
        status=Schedule.Status.PUBLISHED,
    ).values_list("date", "start_at", "end_at")
    clinic_days = {day for day, _start, _end in sessions}
    arrivals_by_hour, by_doctor_day = defaultdict(int), defaultdict(list)
    for doctor_id, day, checked_in, completed in visits:
        clinic_days.add(day)
        arrivals_by_hour[timezone.localtime(checked_in).hour] += 1
        if completed is not None:
            by_doctor_day[(doctor_id, day)].append((checked_in, completed))
    doctor_hours = defaultdict(float)
    for _day, start, end in sessions:
        start, end = timezone.localtime(start), timezone.localtime(end)
        for hour in range(start.hour, end.hour + 1):
            hour_start = start.replace(hour=hour, minute=0, second=0, microsecond=0)
            overlap = min(end, hour_start + datetime.timedelta(hours=1)) - max(start, hour_start)
            if overlap.total_seconds() > 0:
                doctor_hours[hour] += overlap.total_seconds() / 3600
    services = [minutes for day_visits in by_doctor_day.values() for minutes in service_minutes(day_visits)]
    plan = CapacityPlan(
        hospital_id=hospital_id,
        department_id=department_id,
        date_from=date_from,
        date_to=date_to,
        clinic_days=len(clinic_days),
        check_ins=sum(arrivals_by_hour.values()),
        service_samples=len(services),
        mean_service_minutes=sum(services) / len(services) if services else None,
        target_wait_minutes=target_wait_minutes,
        segment_minutes=segment_minutes,
    )
    if not clinic_days:
        return plan
    mu = plan.service_rate_per_hour
    target = target_wait_minutes / 60
    for hour in sorted(set(arrivals_by_hour) | set(doctor_hours)):
        rate = arrivals_by_hour[hour] / len(clinic_days)
        doctors_now = doctor_hours[hour] / len(clinic_days)
        plan.hours.append(_plan_hour(hour, arrivals_by_hour[hour], rate, doctors_now, mu, target, segment_minutes))
    return plan


def _plan_hour(hour, arrivals, rate, doctors_now, mu, target, segment_minutes) -> HourPlan:
    wait_now, unstable, needed, places = None, False, None, None
    if mu:
        servers_now = math.floor(doctors_now + 1e-9)
        if servers_now >= 1:
            try:
                wait_now = queueing.MMc(arrival_rate=rate, service_rate=mu, servers=servers_now).wq
            except queueing.UnstableQueue:
                unstable = True
        elif rate > 0:
            unstable = True
        if rate > 0:
            needed = queueing.servers_for_mean_wait(arrival_rate=rate, service_rate=mu, target_wait=target)
            capacity = queueing.max_arrival_rate_for_mean_wait(service_rate=mu, servers=needed, target_wait=target)
            places = math.floor(capacity / needed * segment_minutes / 60 + 1e-9)
    return HourPlan(
        hour=hour,
        arrivals=arrivals,
        arrival_rate=rate,
        doctors_now=doctors_now,
        mean_wait_now=wait_now,
        unstable_now=unstable,
        doctors_needed=needed,
        places_per_segment=places,
    )


# ---------------------------------------------------------------------------------------------
# Admission control: the web workers in front of 预约 in the release minute


# Used when no benchmark result file is found: the README's release-rush figure, `book_slot`
# at about 170 attempts/s in one web process (2-core machine), i.e. ~5.9 ms of one worker each.
DEFAULT_SERVICE_RATE = 170.0
BENCH_RESULTS = "bench/results"


@dataclass
class MeasuredServer:
    source: str
    service_rate: float  # requests per second one worker completes
    throughput: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    workers: int | None = None


def _number(record: dict, *names):
    for name in names:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def measured_server(*, results_dir: Path | None = None) -> MeasuredServer | None:
    """The booking endpoint's measured figures from `bench/results/*.json`, if a benchmark left any.

    A file holds one record or a list of them (or `{"scenarios": [...]}`); a record may carry
    `scenario`/`name`, `throughput_per_s` (or `throughput`, `rps`), `p50_ms`, `p99_ms`,
    `processes` (or `workers`: web processes) and `threads`. The booking scenario (a name
    containing "book" or "rush") is preferred.

    One worker's service rate is the saturated throughput divided by the processes (one if not
    given): a benchmark drives its endpoint flat out, and threads inside one Python process share
    it rather than add servers. Latencies measured under that load include queueing, so they
    are shown beside the model, never used as the service time; only a record with no
    throughput falls back to 1000/p50_ms.
    """
    folder = results_dir or Path(settings.BASE_DIR) / BENCH_RESULTS
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            data = data.get("scenarios", [data])
        records += [(path.name, record) for record in data if isinstance(record, dict)]
    records.sort(
        key=lambda item: not any(w in str(item[1].get("scenario", item[1].get("name", ""))) for w in ("book", "rush"))
    )
    for source, record in records:
        throughput = _number(record, "throughput_per_s", "throughput", "rps")
        workers = _number(record, "processes", "workers") or 1
        p50_ms = _number(record, "p50_ms")
        rate = throughput / workers if throughput else 1000 / p50_ms if p50_ms else None
        if rate:
            return MeasuredServer(
                source=source,
                service_rate=rate,
                throughput=throughput,
                p50_ms=p50_ms,
                p99_ms=_number(record, "p99_ms"),
                workers=int(workers),
            )
    return None


def release_minute_peak(*, hospital_id: int, date_from: datetime.date, date_to: datetime.date) -> int:
    """The most online booking attempts the hospital saw in one minute (all its doctors together)."""
    busiest = (
        AttemptMinute.objects.filter(
            schedule__doctor__hospital_id=hospital_id, minute__date__range=(date_from, date_to)
        )
        .values("minute")
        .annotate(total=Sum("attempts"))
        .order_by("-total")
        .values_list("total", flat=True)
        .first()
    )
    return busiest or 0


@dataclass
class AdmissionEstimate:
    arrival_rate: float  # requests per second
    service_rate: float  # per worker, per second
    service_rate_source: str
    target_p99_ms: float
    workers_needed: int | None
    rows: list[dict]  # for a range of worker counts: utilisation, mean queueing delay, p99 response


def admission_control(
    *,
    arrival_rate: float,
    service_rate: float,
    source: str,
    target_p99_ms: float = 500,
    workers: list[int] | None = None,
) -> AdmissionEstimate:
    """M/M/c for the booking endpoint: c web workers, requests arriving at the release-minute rate."""
    needed = (
        queueing.servers_for_sojourn_quantile(
            arrival_rate=arrival_rate, service_rate=service_rate, q=0.99, target=target_p99_ms / 1000
        )
        if arrival_rate > 0
        else 1
    )
    if workers is None:
        centre = needed or queueing.minimum_stable_servers(arrival_rate, service_rate)
        workers = sorted({max(1, centre + step) for step in (-2, -1, 0, 1, 2, 4)})
    rows = []
    for count in workers:
        try:
            model = queueing.MMc(arrival_rate=arrival_rate, service_rate=service_rate, servers=count)
        except queueing.UnstableQueue as exc:
            rows.append({"workers": count, "utilisation": exc.utilisation, "stable": False})
            continue
        rows.append(
            {
                "workers": count,
                "utilisation": model.utilisation,
                "stable": True,
                "p_wait": model.p_wait,
                "mean_queue_ms": model.wq * 1000,
                "p99_ms": model.sojourn_quantile(0.99) * 1000,
            }
        )
    return AdmissionEstimate(
        arrival_rate=arrival_rate,
        service_rate=service_rate,
        service_rate_source=source,
        target_p99_ms=target_p99_ms,
        workers_needed=needed,
        rows=rows,
    )


# ---------------------------------------------------------------------------------------------
# Booking-success probability


def hypergeometric_pmf(*, population: int, marked: int, draws: int, hits: int) -> Fraction:
    """P(X = hits) drawing `draws` of `population` without replacement, `marked` of them marked."""
    if not 0 <= hits <= min(marked, draws) or draws - hits > population - marked:
        return Fraction(0)
    return Fraction(
        math.comb(marked, hits) * math.comb(population - marked, draws - hits), math.comb(population, draws)
    )


def lottery_chance(*, entries: int, places: int, mine: int = 1) -> Fraction:
    """Exact chance that at least one of `mine` entries wins when `places` of `entries` are drawn."""
    if entries <= 0:
        return Fraction(1) if places > 0 else Fraction(0)
    draws = min(places, entries)
    return 1 - hypergeometric_pmf(population=entries, marked=mine, draws=draws, hits=0)


@dataclass
class ChannelChance:
    channel: str
    entries: int
    places: int
    chance: Fraction


def schedule_lottery_chances(*, schedule: Schedule) -> list[ChannelChance]:
    """Per channel, the chance of one entry in a lottery (or the draw's lottery part) as it stands.

    The draw shuffles all entries once and fills each channel's places in that order, so within
    a channel the winners are a uniformly random `places` of its `entries`: hypergeometric.
    """
    entries = dict(
        BookingRequest.objects.filter(schedule=schedule)
        .exclude(status__in=[BookingRequest.Status.WITHDRAWN, BookingRequest.Status.CANCELLED])
        .values("channel")
        .annotate(n=Count("id"))
        .values_list("channel", "n")
    )
    if schedule.drawn_at is None:
        slots = list(Slot.objects.filter(schedule=schedule, is_open=True))
        places_by_channel = {channel: sum(slot.free_of(channel) for slot in slots) for channel in Channel.values}
    else:  # the places the draw had to give, as its record keeps them
        record = DrawRecord.objects.filter(schedule=schedule).values_list("places", flat=True).first()
        places_by_channel = record or {}
    chances = []
    for channel in Channel.values:
        places = places_by_channel.get(channel, 0)
        count = entries.get(channel, 0)
        if count or places:
            chances.append(
                ChannelChance(
                    channel=channel, entries=count, places=places, chance=lottery_chance(entries=count, places=places)
                )
            )
    return chances


def open_lottery_chances(*, doctor_id: int, now: datetime.datetime | None = None) -> list[dict]:
    """A doctor's lottery sessions taking entries now, each with one new online entry's exact chance.

    A new entry joins the `entries` already in: it wins with probability places / (entries + 1)
    (capped at 1). Two queries, however many sessions.
    """
    now = now or timezone.now()
    sessions = list(
        Schedule.objects.filter(
            doctor_id=doctor_id,
            allocation_policy=AllocationPolicy.LOTTERY,
            status=Schedule.Status.PUBLISHED,
            drawn_at__isnull=True,
            release_at__lte=now,
            request_closes_at__gt=now,
        )
        .annotate(places=Sum("slots__online_capacity", filter=Q(slots__is_open=True)))
        .order_by("date", "start_at")
    )
    entries = dict(
        BookingRequest.objects.filter(schedule__in=sessions, channel=Channel.ONLINE)
        .exclude(status__in=[BookingRequest.Status.WITHDRAWN, BookingRequest.Status.CANCELLED])
        .values("schedule_id")
        .annotate(n=Count("id"))
        .values_list("schedule_id", "n")
    )
    return [
        {
            "schedule_id": session.pk,
            "date": session.date,
            "period": session.period,
            "entries": entries.get(session.pk, 0),
            "places": session.places or 0,
            "chance": float(lottery_chance(entries=entries.get(session.pk, 0) + 1, places=session.places or 0)),
        }
        for session in sessions
    ]


PRIORITY_BANDS = ((0, 19), (20, 39), (40, 59), (60, None))
HISTORY_DAYS = 180


def _band_label(low, high) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def _release_minute(qs):
    """Attempt rows in their schedule's release minute (the minute holding `release_at`)."""
    release_at = F("schedule__release_at")
    return qs.filter(minute__lte=release_at, minute__gt=release_at - datetime.timedelta(minutes=1))


def historical_chance(*, doctor_id: int, now: datetime.datetime | None = None) -> dict:
    """历史中签率 / 抢号成功率 for a doctor's sessions released in the last `HISTORY_DAYS`.

    - lottery: won / entries drawn (entries passed over as ineligible count as not won);
    - fcfs: won / attempts in the release minute, from the drained attempt counters;
    - priority: won / entries overall and per score band (the draw's score, PRIORITY_BANDS).
    `chance` is the share for the doctor's current policy (their latest published session's), None
    with no data. `open_lotteries`: the lottery sessions taking entries now. Six queries, whatever
    the history.
    """
    now = now or timezone.now()
    since = now - datetime.timedelta(days=HISTORY_DAYS)
    released = {"schedule__release_at__gt": since, "schedule__release_at__lte": now}
    latest_policy = (
        Schedule.objects.filter(doctor_id=doctor_id, status=Schedule.Status.PUBLISHED)
        .order_by("-date", "-start_at")
        .values_list("allocation_policy", flat=True)
        .first()
    )
    drawn = BookingRequest.objects.filter(
        schedule__doctor_id=doctor_id,
        schedule__drawn_at__isnull=False,
        **released,
        status__in=[BookingRequest.Status.WON, BookingRequest.Status.LOST, BookingRequest.Status.INELIGIBLE],
    )
    by_policy = {
        row["schedule__allocation_policy"]: row
        for row in drawn.values("schedule__allocation_policy").annotate(
            entries=Count("id"),
            won=Count("id", filter=Q(status=BookingRequest.Status.WON)),
            sessions=Count("schedule_id", distinct=True),
        )
    }
    fcfs = _release_minute(AttemptMinute.objects.filter(schedule__doctor_id=doctor_id, **released)).aggregate(
        attempts=Sum("attempts"), won=Sum("won"), sessions=Count("schedule_id", distinct=True)
    )
    bands = drawn.filter(schedule__allocation_policy=AllocationPolicy.PRIORITY).aggregate(
        **{
            f"{kind}_{index}": Count(
                "id",
                filter=Q(score__gte=low, **({} if high is None else {"score__lte": high}))
                & (Q(status=BookingRequest.Status.WON) if kind == "won" else Q()),
            )
            for index, (low, high) in enumerate(PRIORITY_BANDS)
            for kind in ("entries", "won")
        }
    )
    policies = {}
    for policy in (AllocationPolicy.LOTTERY, AllocationPolicy.PRIORITY):
        row = by_policy.get(policy, {"entries": 0, "won": 0, "sessions": 0})
        policies[policy] = _share(row["won"], row["entries"], row["sessions"], unit="entries")
    policies[AllocationPolicy.FCFS] = _share(fcfs["won"] or 0, fcfs["attempts"] or 0, fcfs["sessions"], unit="attempts")
    policies[AllocationPolicy.PRIORITY]["bands"] = [
        {"band": _band_label(low, high), **_share(bands[f"won_{i}"], bands[f"entries_{i}"], None, unit="entries")}
        for i, (low, high) in enumerate(PRIORITY_BANDS)
    ]
    current = policies.get(latest_policy) if latest_policy else None
    return {
        "doctor_id": doctor_id,
        "since": timezone.localdate(since),
        "policy": latest_policy,
        "chance": current["chance"] if current else None,
        "sessions": current["sessions"] if current else 0,
        "by_policy": policies,
        "open_lotteries": open_lottery_chances(doctor_id=doctor_id, now=now),
    }


def _share(won: int, total: int, sessions: int | None, *, unit: str) -> dict:
    share = {"chance": won / total if total else None, "won": won, unit: total}
    if sessions is not None:
        share["sessions"] = sessions
    return share


def fcfs_release_share(*, schedule: Schedule) -> dict:
    """The FCFS share of one session: attempts and wins in its release minute."""
    row = _release_minute(AttemptMinute.objects.filter(schedule=schedule)).aggregate(
        attempts=Sum("attempts"), won=Sum("won")
    )
    attempts, won = row["attempts"] or 0, row["won"] or 0
    return {"attempts": attempts, "won": won, "chance": won / attempts if attempts else None}


# ---------------------------------------------------------------------------------------------
# A schedule's demand, for the fairness comparison


def schedule_demand(*, schedule: Schedule) -> dict:
    """How many patients competed for how many online places in a session.

    Lottery/priority: the entries. FCFS: the attempts in the release minute (an upper bound on
    the patients: one patient may try several times). Places: the online capacity.
    """
    entries = BookingRequest.objects.filter(schedule=schedule).exclude(status=BookingRequest.Status.WITHDRAWN).count()
    attempts = fcfs_release_share(schedule=schedule)["attempts"]
    places = Slot.objects.filter(schedule=schedule).aggregate(n=Sum("online_capacity"))["n"] or 0
    return {"patients": max(entries, attempts), "places": places, "entries": entries, "attempts": attempts}


def schedules_for_staff(*, hospital_id: int | None):
    """Sessions a staff member may pick (their hospital's; every hospital's for superusers)."""
    qs = Schedule.objects.select_related("doctor", "department").order_by("-date", "doctor__name")
    return qs if hospital_id is None else qs.filter(doctor__hospital_id=hospital_id)
