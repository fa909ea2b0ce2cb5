"""The benchmark's own arithmetic (`make bench` itself runs outside the test suite)."""

import subprocess
import sys
import time

from bench.run import CpuAccount, cpu_of, median_run, per_second, percentiles


def test_percentiles_pick_from_sorted_latencies():
    assert percentiles([float(n) for n in range(1, 101)], 1) == {"p50_ms": 51.0, "p95_ms": 96.0, "p99_ms": 100.0}


def test_the_median_run_is_reported_with_every_run():
    runs = [{"per_s": 900.0}, {"per_s": 1300.0}, {"per_s": 1100.0}]
    assert median_run(runs) == {"per_s": 1100.0, "runs_per_s": [900.0, 1300.0, 1100.0]}


def test_a_rush_counts_its_answers_over_the_span_it_was_answered_in():
    report = {"counted": 2000, "active_s": 1.6, "requests": 2040, "duration_s": 240.0}
    assert per_second(report, counted_only=True) == 1250.0
    assert per_second(report) == 2040 / 240.0


def test_the_cpu_account_charges_each_part_and_the_machine(monkeypatch):
    """A process standing in for Redis burns 0.3 s of CPU: the account charges it to Redis, the
    machine's total covers it, and the rest is what no named part spent."""
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    busy = subprocess.Popen([sys.executable, "-c", burn])
    try:
        monkeypatch.setattr(CpuAccount, "redis", busy)
        monkeypatch.setattr(CpuAccount, "server", None)
        account = CpuAccount()
        deadline = time.monotonic() + 20
        while cpu_of([busy.pid]) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        spent = CpuAccount.per_answer_ms(account.spent(), 100)
    finally:
        busy.kill()
        busy.wait()
    assert spent["redis"] >= 2.5  # most of 0.3 s over 100 answers, in ms (the rest before the account)
    assert spent["workers"] == 0
    assert spent["machine"] >= spent["redis"] - 0.5  # /proc/stat's ticks against one process's
    assert abs(spent["rest"] - (spent["machine"] - spent["redis"] - spent["load_generator"])) < 0.01
