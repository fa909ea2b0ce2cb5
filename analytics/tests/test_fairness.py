"""The fairness simulator: deterministic per seed; the lottery ignores client speed, FCFS does not."""

import io

import pytest
from django.core.management import CommandError, call_command

from analytics import charts
from analytics.fairness import compare_policies, jain_index, simulate_release

PNG = b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_report_other_seed_other_report():
    first = simulate_release(policy="fcfs", patients=500, places=50, seed=42, rounds=5)
    assert first == simulate_release(policy="fcfs", patients=500, places=50, seed=42, rounds=5)
    assert first != simulate_release(policy="fcfs", patients=500, places=50, seed=43, rounds=5)


def test_lottery_success_does_not_depend_on_client_speed_but_fcfs_does():
    lottery = simulate_release(policy="lottery", patients=2000, places=200, seed=7, rounds=30)
    fcfs = simulate_release(policy="fcfs", patients=2000, places=200, seed=7, rounds=30)
    # 200 patients per decile × 30 releases: a decile's rate has σ ≈ 0.004 around 0.1.
    assert all(abs(rate - 0.1) < 0.03 for rate in lottery.by_speed_decile)
    assert lottery.fastest_tenth_share == pytest.approx(0.1, abs=0.03)
    assert fcfs.by_speed_decile[0] > 0.4 > 0.01 > fcfs.by_speed_decile[-1]
    assert fcfs.fastest_tenth_share > 0.4
    assert fcfs.jain_index < lottery.jain_index
    assert lottery.jain_index == pytest.approx(lottery.jain_of_a_fair_draw, abs=0.05)
    # The slower elderly lose under FCFS and not in the lottery.
    assert fcfs.by_age_band["65+"] < 0.05 < lottery.by_age_band["65+"]


def test_priority_serves_the_urgent_first():
    priority = simulate_release(policy="priority", patients=1000, places=100, seed=3, rounds=10)
    assert priority.by_urgency[2] > priority.by_urgency[0]  # 紧急 before 常规


def test_every_policy_gives_out_exactly_the_places():
    for report in compare_policies(patients=300, places=40, seed=1, rounds=4):
        assert report.success_rate * report.patients == pytest.approx(40)


def test_jain_index():
    assert jain_index([1, 1, 1, 1]) == 1
    assert jain_index([1, 0, 0, 0]) == pytest.approx(0.25)
    assert jain_index([0, 0]) == 1


def test_fairness_sim_command_prints_the_report_and_a_chart(tmp_path):
    out = io.StringIO()
    chart = tmp_path / "fair.png"
    call_command(
        "fairness_sim", "--policy", "lottery", "--patients", "400", "--places", "40", "--seed", "9",
        "--rounds", "5", "--chart", str(chart), stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    report = simulate_release(policy="lottery", patients=400, places=40, seed=9, rounds=5)
    assert f"Jain's fairness index: {report.jain_index:.3f}" in text
    assert f"share of places won by the fastest 10% of clients: {report.fastest_tenth_share:.3f}" in text
    assert "age    65+" in text and "urgency 紧急" in text
    assert chart.read_bytes().startswith(PNG)


def test_fairness_sim_refuses_nonsense():
    with pytest.raises(CommandError):
        call_command("fairness_sim", "--policy", "fcfs", "--patients", "0", "--places", "1", "--seed", "1")


def test_comparison_chart_is_a_png():
    assert charts.fairness_chart(compare_policies(patients=100, places=10, seed=2, rounds=2)).startswith(PNG)
