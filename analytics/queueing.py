"""Queueing models: M/M/1 and M/M/c (Erlang C), and the planning questions asked of them.

Notation: arrivals at rate λ (`arrival_rate`), exponential service at rate μ per server
(`service_rate`), c identical servers, first come first served, infinite waiting room. Offered
load a = λ/μ, utilisation ρ = a/c; the queue is stable only for ρ < 1.

Erlang C is computed through the Erlang B recurrence B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)),
then C = c·B / (c − a(1 − B)). Every intermediate value stays in [0, 1], so there is no factorial
or power to overflow and c in the thousands is as accurate as c = 1. P0 is taken in log space
from B for the same reason.

Time units are whatever the rates are in (per hour → hours, per second → seconds).
"""

import math
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


class UnstableQueue(ValueError):
    """ρ ≥ 1: arrivals outpace the servers, the queue grows without bound and has no steady state."""

    def __init__(self, *, arrival_rate: float, service_rate: float, servers: int):
        self.arrival_rate, self.service_rate, self.servers = arrival_rate, service_rate, servers
        self.utilisation = arrival_rate / (servers * service_rate)
        super().__init__(
            f"unstable queue: utilisation ρ = λ/(cμ) = {arrival_rate:g}/({servers}×{service_rate:g}) "
            f"= {self.utilisation:.4f} ≥ 1; at least {minimum_stable_servers(arrival_rate, service_rate)} "
            "servers are needed for a steady state"
        )


def _check_rates(arrival_rate: float, service_rate: float, servers: int) -> None:
    if not (math.isfinite(arrival_rate) and arrival_rate >= 0):
        raise ValueError("arrival_rate must be a finite number ≥ 0")
    if not (math.isfinite(service_rate) and service_rate > 0):
        raise ValueError("service_rate must be a finite number > 0")
    if not isinstance(servers, int) or isinstance(servers, bool) or servers < 1:
        raise ValueError("servers must be an integer ≥ 1")


def minimum_stable_servers(arrival_rate: float, service_rate: float) -> int:
    """The fewest servers with ρ < 1."""
    return math.floor(arrival_rate / service_rate) + 1


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B) by the stable recurrence."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C); needs offered_load < servers."""
    if offered_load >= servers:
        raise ValueError("Erlang C needs offered load a < c")
    if offered_load == 0:
        return 0.0
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1 - blocking))


@dataclass(frozen=True)
class MMc:
    """Steady-state metrics of an M/M/c queue (c = 1 is M/M/1)."""

    arrival_rate: float
    service_rate: float
    servers: int = 1

    def __post_init__(self):
        _check_rates(self.arrival_rate, self.service_rate, self.servers)
        if self.arrival_rate >= self.servers * self.service_rate:
            raise UnstableQueue(arrival_rate=self.arrival_rate, service_rate=self.service_rate, servers=self.servers)

    @property
    def offered_load(self) -> float:
        return self.arrival_rate / self.service_rate

    @property
    def utilisation(self) -> float:
        return self.offered_load / self.servers

    @property
    def p_wait(self) -> float:
        """P(an arrival has to wait) = Erlang C (for M/M/1 simply ρ)."""
        return erlang_c(self.servers, self.offered_load)

    @property
    def p0(self) -> float:
        """P(system empty) = 1 / (Σ_{k<c} a^k/k! + a^c/(c!(1−ρ))), from Erlang B in log space."""
        a, c = self.offered_load, self.servers
        if a == 0:
            return 1.0
        blocking = erlang_b(c, a)
        log_tc = c * math.log(a) - math.lgamma(c + 1)  # log(a^c / c!)
        return math.exp(-log_tc - math.log(1 / blocking - 1 + 1 / (1 - self.utilisation)))

    @property
    def lq(self) -> float:
        """Mean number waiting."""
        return self.p_wait * self.utilisation / (1 - self.utilisation)

    @property
    def l(self) -> float:  # noqa: E743  (L is the textbook name)
        """Mean number in the system (Little: L = Lq + a)."""
        return self.lq + self.offered_load

    @property
    def wq(self) -> float:
        """Mean wait before service: C / (cμ − λ)."""
        return self.p_wait / self._drain_rate

    @property
    def w(self) -> float:
        """Mean time in the system: Wq + 1/μ."""
        return self.wq + 1 / self.service_rate

    @property
    def _drain_rate(self) -> float:
        return self.servers * self.service_rate - self.arrival_rate

    def p_wait_exceeds(self, t: float) -> float:
        """P(Wq > t) = C·e^{−(cμ−λ)t} for t ≥ 0."""
        if t < 0:
            return 1.0
        return self.p_wait * math.exp(-self._drain_rate * t)

    def p_sojourn_exceeds(self, t: float) -> float:
        """P(W > t): the wait (0 with prob. 1−C, else Exp(cμ−λ)) plus an Exp(μ) service."""
        if t < 0:
            return 1.0
        mu, theta, c_wait = self.service_rate, self._drain_rate, self.p_wait
        service_only = math.exp(-mu * t)
        if math.isclose(mu, theta, rel_tol=1e-12):
            both = (1 + mu * t) * math.exp(-mu * t)
        else:
            both = (mu * math.exp(-theta * t) - theta * math.exp(-mu * t)) / (mu - theta)
        return (1 - c_wait) * service_only + c_wait * both

    def wait_quantile(self, q: float) -> float:
        """The q-quantile of the wait before service (0 when fewer than 1−q of arrivals wait at all)."""
        _check_quantile(q)
        tail = 1 - q
        if self.p_wait <= tail:
            return 0.0
        return math.log(self.p_wait / tail) / self._drain_rate

    def sojourn_quantile(self, q: float) -> float:
        """The q-quantile of the time in the system (wait + service), by bisection on P(W > t)."""
        _check_quantile(q)
        tail = 1 - q
        low, high = 0.0, 1 / self.service_rate
        while self.p_sojourn_exceeds(high) > tail:
            high *= 2
        for _step in range(200):
            middle = (low + high) / 2
            if self.p_sojourn_exceeds(middle) > tail:
                low = middle
            else:
                high = middle
            if high - low <= 1e-12 * high:
                break
        return high

    def as_dict(self) -> dict:
        return {
            "arrival_rate": self.arrival_rate,
            "service_rate": self.service_rate,
            "servers": self.servers,
            "utilisation": self.utilisation,
            "p0": self.p0,
            "p_wait": self.p_wait,
            "lq": self.lq,
            "l": self.l,
            "wq": self.wq,
            "w": self.w,
        }


def MM1(arrival_rate: float, service_rate: float) -> MMc:
    return MMc(arrival_rate=arrival_rate, service_rate=service_rate, servers=1)


def _check_quantile(q: float) -> None:
    if not 0 < q < 1:
        raise ValueError("q must lie strictly between 0 and 1")


MAX_SERVERS = 100_000


def servers_for_mean_wait(*, arrival_rate: float, service_rate: float, target_wait: float) -> int:
    """The fewest servers whose mean wait Wq is at most `target_wait` (Wq falls as c grows)."""
    if not target_wait > 0:
        raise ValueError("target_wait must be > 0 (no finite number of servers makes every wait zero)")
    return _fewest_servers(arrival_rate, service_rate, lambda model: model.wq <= target_wait)


def servers_for_sojourn_quantile(*, arrival_rate: float, service_rate: float, q: float, target: float) -> int | None:
    """The fewest servers whose q-quantile of time in system is at most `target`.

    None when even an idle server is too slow: the service time alone exceeds the target for
    more than 1−q of requests (P(S > target) = e^{−μ·target} > 1−q).
    """
    _check_quantile(q)
    if not target > 0:
        raise ValueError("target must be > 0")
    if math.exp(-service_rate * target) > 1 - q:
        return None
    return _fewest_servers(arrival_rate, service_rate, lambda model: model.sojourn_quantile(q) <= target)


def _fewest_servers(arrival_rate, service_rate, good_enough) -> int:
    _check_rates(arrival_rate, service_rate, 1)
    servers = minimum_stable_servers(arrival_rate, service_rate)
    while servers <= MAX_SERVERS:
        if good_enough(MMc(arrival_rate=arrival_rate, service_rate=service_rate, servers=servers)):
            return servers
        servers += 1
    raise ValueError("no server count up to the limit meets the target")


def max_arrival_rate_for_mean_wait(*, service_rate: float, servers: int, target_wait: float) -> float:
    """The largest arrival rate c servers can take with mean wait Wq ≤ `target_wait` (bisection)."""
    _check_rates(0, service_rate, servers)
    if target_wait < 0:
        raise ValueError("target_wait must be ≥ 0")
    low, high = 0.0, servers * service_rate
    for _step in range(200):
        middle = (low + high) / 2
        if MMc(arrival_rate=middle, service_rate=service_rate, servers=servers).wq <= target_wait:
            low = middle
        else:
            high = middle
    return low


UNSTABLE_MESSAGE = _("到达率不低于服务能力（ρ ≥ 1），排队会无限增长，需要至少 %(servers)s 个服务台。")
