"""A discrete-event simulation of an M/M/c queue, to check the formulas in analytics.queueing.

First come first served with c servers means: each arrival, in arrival order, takes the server
that frees up first, and waits until then if it is still busy. Keeping the servers' next-free
times in a heap makes every event O(log c), so one process simulates a few hundred thousand
patients in well under a second. Seeded, so a given seed always gives the same numbers.

The mean wait's confidence interval comes from batch means: after a warm-up the waits are cut
into `BATCHES` consecutive batches whose means are close to independent and normal, and a
Student t interval is taken over them.
"""

import heapq
import math
import random
import statistics
from dataclasses import dataclass

BATCHES = 20
T_975_19 = 2.093024054408309  # Student t, 97.5% quantile, 19 degrees of freedom (BATCHES - 1)


@dataclass(frozen=True)
class SimulatedWait:
    mean_wait: float
    ci_low: float
    ci_high: float
    customers: int

    def contains(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high


def simulate_mmc_wait(
    *, arrival_rate: float, service_rate: float, servers: int, customers: int, seed: int, warmup: int | None = None
) -> SimulatedWait:
    """Mean wait before service over `customers` arrivals after `warmup` (default a tenth), with a 95% CI."""
    rng = random.Random(seed)
    warmup = customers // 10 if warmup is None else warmup
    free_at = [0.0] * servers
    clock = 0.0
    waits = []
    for index in range(warmup + customers):
        clock += rng.expovariate(arrival_rate)
        first_free = heapq.heappop(free_at)
        start = max(clock, first_free)
        heapq.heappush(free_at, start + rng.expovariate(service_rate))
        if index >= warmup:
            waits.append(start - clock)
    size = len(waits) // BATCHES
    means = [statistics.fmean(waits[i * size : (i + 1) * size]) for i in range(BATCHES)]
    centre = statistics.fmean(means)
    half_width = T_975_19 * statistics.stdev(means) / math.sqrt(BATCHES)
    return SimulatedWait(
        mean_wait=centre, ci_low=centre - half_width, ci_high=centre + half_width, customers=size * BATCHES
    )
