"""Fairness of the allocation policies, by simulating the same population through many releases.

A population of `patients` competes for `places` in each of `rounds` weekly releases, under one
policy. Each patient has, for good:
- a client speed: the median network and tapping delay of their phone (log-normal; the elderly
  are slower on average, children are booked by a parent);
- an age and an urgency (常规/较急/转诊复查/紧急, as booking.models.BookingRequest.Urgency);
- a number of repeat attempts (1–5) and a retry gap: under load some attempts time out
  (`REACH_PROBABILITY` each), and a patient who retries more often gets through more often.

Per release each attempt's delay jitters around the patient's median. The policies:
- fcfs: places go in order of the first attempt that reached the server;
- lottery: everybody who got an entry in during the (long) window is drawn uniformly;
- priority: booking.allocation.score_of (urgency, age, waiting days — one week per lost release)
  ranks the entries, ties broken by the seeded draw, exactly as the real draw does.

A patient's success rate is their share of releases won. The report gives it by age band,
urgency and client-speed decile, the share of all places won by the fastest 10% of clients and
Jain's index J = (Σx)² / (n·Σx²) over the patients' success rates (1 = everyone equally likely;
k/n = the same k patients win every time). Over finitely many rounds even a uniform draw's
rates scatter binomially, so its J is 1/(1 + (1−p)/(p·rounds)) with p = k/n, not 1: the report
gives that reference beside the measured index. Everything comes from one `random.Random(seed)`, so a
seed always gives the same report.
"""

import math
import random
from dataclasses import dataclass, field

from booking.allocation import score_of
from booking.models import BookingRequest

POLICIES = ("fcfs", "lottery", "priority")
AGE_BANDS = (("0-14", 0, 14), ("15-64", 15, 64), ("65+", 65, 200))
URGENCY_WEIGHTS = {
    BookingRequest.Urgency.ROUTINE: 0.6,
    BookingRequest.Urgency.SOON: 0.2,
    BookingRequest.Urgency.REFERRAL: 0.1,
    BookingRequest.Urgency.URGENT: 0.1,
}
MEDIAN_DELAY_MS = {"0-14": 350.0, "15-64": 300.0, "65+": 700.0}
DELAY_SPREAD = 0.6  # σ of log(delay) between patients
JITTER = 0.25  # σ of log(delay) between one patient's releases
REACH_PROBABILITY = 0.7  # an attempt in the rush gets through (not timed out)
DAYS_BETWEEN_RELEASES = 7
DEFAULT_ROUNDS = 20


@dataclass
class SimulatedPatient:
    age: int
    urgency: int
    median_delay_ms: float
    repeat_attempts: int
    retry_gap_ms: float
    age_band: str
    waiting_days: int = 0
    wins: int = 0


@dataclass
class FairnessReport:
    policy: str
    patients: int
    places: int
    rounds: int
    seed: int
    success_rate: float
    by_age_band: dict[str, float]
    by_urgency: dict[int, float]
    by_speed_decile: list[float]  # decile 1 = the fastest tenth of clients
    fastest_tenth_share: float
    jain_index: float
    jain_of_a_fair_draw: float  # what a perfectly uniform draw scores over the same number of rounds
    patients_by_age_band: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def age_band(age: int) -> str:
    return next(name for name, low, high in AGE_BANDS if low <= age <= high)


def build_population(*, patients: int, rng: random.Random) -> list[SimulatedPatient]:
    population = []
    urgencies, weights = list(URGENCY_WEIGHTS), list(URGENCY_WEIGHTS.values())
    for _index in range(patients):
        age = min(95, int(rng.triangular(0, 95, 45)))
        band = age_band(age)
        population.append(
            SimulatedPatient(
                age=age,
                urgency=int(rng.choices(urgencies, weights)[0]),
                median_delay_ms=MEDIAN_DELAY_MS[band] * math.exp(rng.gauss(0, DELAY_SPREAD)),
                repeat_attempts=rng.randint(1, 5),
                retry_gap_ms=rng.uniform(800, 3000),
                age_band=band,
            )
        )
    return population


def _first_reach_ms(patient: SimulatedPatient, rng: random.Random) -> float | None:
    """When the patient's first attempt that gets through arrives (None: every attempt timed out)."""
    delay = patient.median_delay_ms * math.exp(rng.gauss(0, JITTER))
    for attempt in range(patient.repeat_attempts):
        if rng.random() < REACH_PROBABILITY:
            return delay + attempt * patient.retry_gap_ms
    return None


def _winners(policy: str, population: list[SimulatedPatient], places: int, rng: random.Random) -> list[int]:
    if policy == "fcfs":
        reached = [(at, index) for index, p in enumerate(population) if (at := _first_reach_ms(p, rng)) is not None]
        return [index for _at, index in sorted(reached)[:places]]
    draw = list(range(len(population)))
    rng.shuffle(draw)
    if policy == "lottery":
        return draw[:places]
    rank = {index: position for position, index in enumerate(draw)}
    scored = sorted(
        draw,
        key=lambda i: (
            -score_of(urgency=population[i].urgency, age=population[i].age, waiting=population[i].waiting_days),
            rank[i],
        ),
    )
    return scored[:places]


def jain_index(values: list[float]) -> float:
    total, squares = sum(values), sum(v * v for v in values)
    return 1.0 if squares == 0 else total * total / (len(values) * squares)


def _uniform_jain(p: float, rounds: int) -> float:
    """E[x]² / E[x²] for x = Binomial(rounds, p) / rounds: Jain's index of a perfectly fair draw."""
    return 1.0 if p in (0.0, 1.0) else 1 / (1 + (1 - p) / (p * rounds))


def simulate_release(
    *, policy: str, patients: int, places: int, seed: int, rounds: int = DEFAULT_ROUNDS
) -> FairnessReport:
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
    if patients < 1 or places < 0 or rounds < 1:
        raise ValueError("patients and rounds must be ≥ 1, places ≥ 0")
    rng = random.Random(seed)
    population = build_population(patients=patients, rng=rng)
    for _round in range(rounds):
        won = set(_winners(policy, population, places, rng))
        for index, patient in enumerate(population):
            if index in won:
                patient.wins += 1
                patient.waiting_days = 0
            else:
                patient.waiting_days += DAYS_BETWEEN_RELEASES
    rates = [p.wins / rounds for p in population]
    by_speed = sorted(range(patients), key=lambda i: population[i].median_delay_ms)
    deciles = [by_speed[d * patients // 10 : (d + 1) * patients // 10] for d in range(10)]
    total_wins = sum(p.wins for p in population)
    fastest = by_speed[: max(1, patients // 10)]

    def mean_rate(indexes) -> float:
        return sum(rates[i] for i in indexes) / len(indexes) if indexes else 0.0

    bands = {name: [i for i, p in enumerate(population) if p.age_band == name] for name, _low, _high in AGE_BANDS}
    urgencies = {int(u): [i for i, p in enumerate(population) if p.urgency == u] for u in URGENCY_WEIGHTS}
    return FairnessReport(
        policy=policy,
        patients=patients,
        places=places,
        rounds=rounds,
        seed=seed,
        success_rate=mean_rate(range(patients)),
        by_age_band={name: mean_rate(indexes) for name, indexes in bands.items()},
        by_urgency={urgency: mean_rate(urgencies[urgency]) for urgency in sorted(urgencies)},
        by_speed_decile=[mean_rate(decile) for decile in deciles],
        fastest_tenth_share=(sum(population[i].wins for i in fastest) / total_wins) if total_wins else 0.0,
        jain_index=jain_index(rates),
        jain_of_a_fair_draw=_uniform_jain(min(1.0, places / patients), rounds),
        patients_by_age_band={name: len(indexes) for name, indexes in bands.items()},
    )


def compare_policies(*, patients: int, places: int, seed: int, rounds: int = DEFAULT_ROUNDS) -> list[FairnessReport]:
    """The three policies on the same population (same seed)."""
    return [
        simulate_release(policy=policy, patients=patients, places=places, seed=seed, rounds=rounds)
        for policy in POLICIES
    ]
