import math
from fractions import Fraction

import pytest

from analytics.queueing import (
    MM1,
    MMc,
    UnstableQueue,
    erlang_b,
    erlang_c,
    max_arrival_rate_for_mean_wait,
    servers_for_mean_wait,
    servers_for_sojourn_quantile,
)
from analytics.simulation import simulate_mmc_wait

EXACT = 1e-9


def test_mm1_textbook_values():
    model = MM1(2, 3)
    assert model.utilisation == pytest.approx(2 / 3, abs=EXACT)
    assert model.p0 == pytest.approx(1 / 3, abs=EXACT)
    assert model.p_wait == pytest.approx(2 / 3, abs=EXACT)
    assert model.l == pytest.approx(2, abs=EXACT)
    assert model.lq == pytest.approx(4 / 3, abs=EXACT)
    assert model.w == pytest.approx(1, abs=EXACT)
    assert model.wq == pytest.approx(2 / 3, abs=EXACT)


def test_mm3_textbook_values():
    model = MMc(arrival_rate=2, service_rate=1, servers=3)
    assert model.utilisation == pytest.approx(2 / 3, abs=EXACT)
    assert model.p0 == pytest.approx(1 / 9, abs=EXACT)
    assert model.p_wait == pytest.approx(4 / 9, abs=EXACT)
    assert model.lq == pytest.approx(8 / 9, abs=EXACT)
    assert model.wq == pytest.approx(4 / 9, abs=EXACT)
    assert model.l == pytest.approx(8 / 9 + 2, abs=EXACT)
    assert model.w == pytest.approx(4 / 9 + 1, abs=EXACT)


def test_littles_law_holds():
    model = MMc(arrival_rate=7.3, service_rate=0.9, servers=11)
    assert model.l == pytest.approx(model.arrival_rate * model.w, rel=1e-12)
    assert model.lq == pytest.approx(model.arrival_rate * model.wq, rel=1e-12)


def exact_erlang_c(servers: int, load: Fraction) -> Fraction:
    """Erlang C straight from its textbook definition, in exact rational arithmetic."""
    head = sum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / math.factorial(servers) * servers / (servers - load)
    return tail / (head + tail)


def exact_p0(servers: int, load: Fraction) -> Fraction:
    head = sum(load**k / math.factorial(k) for k in range(servers))
    return 1 / (head + load**servers / math.factorial(servers) * servers / (servers - load))


@pytest.mark.parametrize(
    ("servers", "load"),
    [(1, Fraction(1, 2)), (50, Fraction(45)), (200, Fraction(190)), (250, Fraction(2399, 10)), (400, Fraction(380))],
)
def test_erlang_c_for_large_c_matches_exact_rational_arithmetic(servers, load):
    expected = exact_erlang_c(servers, load)
    assert erlang_c(servers, float(load)) == pytest.approx(float(expected), rel=1e-9)
    model = MMc(arrival_rate=float(load), service_rate=1.0, servers=servers)
    assert model.p0 == pytest.approx(float(exact_p0(servers, load)), rel=1e-9)


@pytest.mark.parametrize(("servers", "load"), [(10, Fraction(5)), (200, Fraction(210))])
def test_erlang_b_matches_its_definition(servers, load):
    terms = [load**k / math.factorial(k) for k in range(servers + 1)]
    assert erlang_b(servers, float(load)) == pytest.approx(float(terms[-1] / sum(terms)), rel=1e-9)


@pytest.mark.parametrize(("arrival", "service", "servers"), [(3, 3, 1), (4, 1, 3), (3.0, 1.0, 3), (500, 2, 200)])
def test_unstable_queue_is_refused_with_a_clear_error(arrival, service, servers):
    with pytest.raises(UnstableQueue, match="ρ") as caught:
        MMc(arrival_rate=arrival, service_rate=service, servers=servers)
    assert caught.value.utilisation >= 1
    assert f"at least {math.floor(arrival / service) + 1} servers" in str(caught.value)


@pytest.mark.parametrize("bad", [{"arrival_rate": -1}, {"service_rate": 0}, {"servers": 0}, {"servers": 2.5}])
def test_invalid_parameters_are_refused(bad):
    params = {"arrival_rate": 1, "service_rate": 2, "servers": 1} | bad
    with pytest.raises(ValueError):
        MMc(**params)


def test_wait_tail_and_quantile_agree():
    model = MMc(arrival_rate=2, service_rate=1, servers=3)
    assert model.p_wait_exceeds(0) == pytest.approx(4 / 9)
    assert model.p_wait_exceeds(1) == pytest.approx(4 / 9 * math.exp(-1))
    p99 = model.wait_quantile(0.99)
    assert model.p_wait_exceeds(p99) == pytest.approx(0.01, rel=1e-9)
    assert model.wait_quantile(0.5) == 0  # fewer than half of the arrivals wait at all


def test_sojourn_tail_of_mm1_is_exponential():
    # For M/M/1 the time in system is Exp(μ − λ).
    model = MM1(2, 3)
    for t in (0, 0.5, 1, 3):
        assert model.p_sojourn_exceeds(t) == pytest.approx(math.exp(-(3 - 2) * t), rel=1e-12)
    assert model.sojourn_quantile(0.99) == pytest.approx(math.log(100), rel=1e-9)


def test_sojourn_tail_when_drain_rate_equals_service_rate():
    model = MMc(arrival_rate=1, service_rate=1, servers=2)  # cμ − λ = μ: the repeated-root case
    assert model.p_sojourn_exceeds(1.0) == pytest.approx(model.p_sojourn_exceeds(1.0 + 1e-9), rel=1e-6)
    assert model.p_sojourn_exceeds(0) == pytest.approx(1.0)


def test_servers_for_mean_wait_is_the_smallest_that_meets_it():
    servers = servers_for_mean_wait(arrival_rate=2, service_rate=1, target_wait=0.1)
    assert MMc(arrival_rate=2, service_rate=1, servers=servers).wq <= 0.1
    assert MMc(arrival_rate=2, service_rate=1, servers=servers - 1).wq > 0.1


def test_servers_for_p99_is_the_smallest_that_meets_it():
    servers = servers_for_sojourn_quantile(arrival_rate=300, service_rate=50, q=0.99, target=0.1)
    assert MMc(arrival_rate=300, service_rate=50, servers=servers).sojourn_quantile(0.99) <= 0.1
    assert MMc(arrival_rate=300, service_rate=50, servers=servers - 1).sojourn_quantile(0.99) > 0.1


def test_a_zero_target_is_refused_rather_than_searched_for_ever():
    with pytest.raises(ValueError, match="target_wait"):
        servers_for_mean_wait(arrival_rate=2, service_rate=1, target_wait=0)


def test_p99_target_below_the_service_time_itself_has_no_answer():
    assert servers_for_sojourn_quantile(arrival_rate=10, service_rate=1, q=0.99, target=0.5) is None


def test_max_arrival_rate_for_mean_wait_sits_on_the_target():
    rate = max_arrival_rate_for_mean_wait(service_rate=1, servers=3, target_wait=4 / 9)
    assert rate == pytest.approx(2, rel=1e-9)


@pytest.mark.parametrize(
    ("arrival", "service", "servers", "seed"),
    [(2.0, 3.0, 1, 7), (2.0, 1.0, 3, 11), (15.0, 1.0, 20, 5)],
)
def test_simulated_mean_wait_agrees_with_the_formula(arrival, service, servers, seed):
    simulated = simulate_mmc_wait(
        arrival_rate=arrival, service_rate=service, servers=servers, customers=200_000, seed=seed
    )
    expected = MMc(arrival_rate=arrival, service_rate=service, servers=servers).wq
    assert simulated.contains(expected), (simulated, expected)
    assert simulated.ci_high - simulated.ci_low < 0.35 * expected  # narrow enough to mean something


def test_simulation_is_deterministic_per_seed():
    first = simulate_mmc_wait(arrival_rate=2, service_rate=1, servers=3, customers=5_000, seed=3)
    again = simulate_mmc_wait(arrival_rate=2, service_rate=1, servers=3, customers=5_000, seed=3)
    other = simulate_mmc_wait(arrival_rate=2, service_rate=1, servers=3, customers=5_000, seed=4)
    assert first == again
    assert first != other
