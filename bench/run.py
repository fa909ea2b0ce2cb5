"""`make bench`: the release minute and a day's traffic, through the real HTTP stack, in one run.

It starts the stack a hospital would deploy, on this machine, all of it its own:
- PostgreSQL at 127.0.0.1:5432, database `hospital_bench` (dropped and re-created: the name must
  end in `_bench`), migrated and seeded;
- its own Redis (`redis-server` on BENCH_REDIS_PORT, nothing saved) for the cache and the broker;
- the site under gunicorn (gthread workers, persistent database connections), bench.settings
  (production mode plus an `X-Bench-SQL` header: each request's SQL statements);
- wrk (Lua scripts in bench/lua/) as the load generator, and pgbench for the raw floor; their CPU
  share of the machine is reported beside each scenario.

Scenarios: raw_floor, release_rush (4 and 2 workers), bare_endpoint, django_floor (a plain Django
view behind the same server and middleware, no DRF, no authentication), browse (cached, uncached),
fhir_feed (with and without If-None-Match), mixed_day. It prints a table, the ratios to raw_floor
and bare_endpoint, writes bench/results/<UTC date>.json, and exits 1 when an invariant fails:
a place oversold, a 5xx, a rush answer other than 201 or 409 slot_full, anything else written.
Every process it started is stopped on the way out, whatever happens.
"""

import argparse
import contextlib
import datetime
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hospital_bench")
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6397"))
HTTP_PORT = int(os.environ.get("BENCH_PORT", "8097"))
BASE = f"http://127.0.0.1:{HTTP_PORT}"
RUSH_PLACES, RUSH_SLOTS = 30, 6
DOCTORS, DAYS = 20, 7
RUSH_DEADLINE = int(os.environ.get("BENCH_RUSH_DEADLINE", "240"))  # seconds: a quiet machine needs ~2
WRK_TIMEOUT = 30  # seconds before wrk gives up on an answer
RUSH_GRACE = 5  # seconds to wait for the last answers once every attempt is sent
RUSH_RUNS = 3  # runs of each scenario but mixed_day; the one of median throughput is reported, every one checked
CONNECTIONS = 32  # wrk connections, and pgbench clients for the raw floor: the same concurrency
# Python threads per worker: 2 overlap a wait on PostgreSQL or Redis; more only queue for the GIL
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# granian (HTTP in Rust, the app in each worker's Python threads) or gunicorn (gthread workers)
SERVER = os.environ.get("BENCH_SERVER", "granian")

ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": DATABASE_URL,
    "DATABASE_CONN_MAX_AGE": "600",
    "CACHE_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/1",  # SMS queue up; no worker drains them here
    "PAYMENTS_SANDBOX": "1",
    # wrk is one client from one address: limits that never bite, still counted on every request
    "API_THROTTLE_ANON": "100000000/min",
    "API_THROTTLE_USER": "100000000/min",
    "API_THROTTLE_BOOKING": "100000000/min",
    "SITE_URL": BASE,
}

started: list[subprocess.Popen] = []


# ---------------------------------------------------------------------------------------------
# Processes (only ever the ones this script started, by their own process group)


def spawn(cmd, **kwargs) -> subprocess.Popen:
    process = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    started.append(process)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process in started:
        started.remove(process)


def stop_all(*_args):
    for process in list(reversed(started)):
        stop(process)
    if _args:
        sys.exit(130)


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


def port_free(port: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return
    raise SystemExit(f"port {port} is taken: set BENCH_PORT / BENCH_REDIS_PORT")


def start_redis() -> subprocess.Popen:
    port_free(REDIS_PORT)
    redis = CpuAccount.redis = spawn(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(REDIS_PORT)
    return redis


def redis_flush() -> None:
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "FLUSHALL"], check=True, stdout=subprocess.DEVNULL)


class Server:
    """The site under granian (or gunicorn, BENCH_SERVER) with `workers` workers; its workers' memory
    is read from /proc. With `access_log`
    (a path) it logs each request's path and time in the server, to tell the site's own time from
    the time an answer waited in line (`server_times`)."""

    def __init__(self, workers: int, access_log: Path | None = None, **env):
        port_free(HTTP_PORT)
        self.workers = workers
        self.access_log = access_log
        self.log_file = open(access_log, "a") if access_log else None  # noqa: SIM115 (closed in close())
        if SERVER == "granian":
            logging = ["--access-log", "--access-log-fmt", "%(path)s %(status)d %(dt_ms).3f"] if access_log else []
            command = [
                str(ROOT / ".venv/bin/granian"),
                "--interface=wsgi",
                f"--workers={workers}",
                f"--blocking-threads={THREADS}",
                "--host=127.0.0.1",
                f"--port={HTTP_PORT}",
                "--backlog=2048",
                "--log-level=warning",
                *logging,
                "bench.wsgi:application",
            ]
        else:
            logging = ["--access-logfile", "-", "--access-logformat", "%(U)s %(s)s %(D)s"] if access_log else []
            command = [
                str(ROOT / ".venv/bin/gunicorn"),
                "bench.wsgi:application",
                f"--workers={workers}",
                "--worker-class=gthread",
                f"--threads={THREADS}",
                f"--bind=127.0.0.1:{HTTP_PORT}",
                "--backlog=2048",
                "--keep-alive=30",
                "--log-level=warning",
                *logging,
            ]
        self.process = spawn(command, cwd=ROOT, env={**os.environ, **ENV, **env}, stdout=self.log_file)
        wait_for_port(HTTP_PORT)
        CpuAccount.server = self
        for _ in range(50):  # each worker imports the site and opens its connections: warm, as at 7:59
            urllib.request.urlopen(f"{BASE}/bench/warm/", timeout=30).read()
        self.start_rss = self.memory()["rss_kb"]

    def logged_lines(self) -> int:
        return len(self.access_log.read_text().splitlines()) if self.access_log.exists() else 0

    def server_times(self, path: str, *, after: int = 0) -> dict:
        """p50/p95/p99 of the time requests to `path` spent in the server (from its access log,
        the lines after the first `after`)."""
        times = sorted(
            float(line.split()[2]) / (1 if SERVER == "granian" else 1000)  # ms, or gunicorn's µs
            for line in self.access_log.read_text().splitlines()[after:]
            if line.startswith(path + " ")
        )
        return {**percentiles(times, 1), "max_ms": times[-1]} if times else {}

    def pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def memory(self) -> dict:
        """The workers' resident memory now and at its peak (VmHWM), the largest worker's, in kB."""
        rss, peak = [], []
        for pid in self.pids():
            status = Path(f"/proc/{pid}/status").read_text()
            rss.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)))
            peak.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))
        return {"rss_kb": max(rss, default=0), "peak_kb": max(peak, default=0)}

    def close(self) -> dict:
        end = self.memory()
        stop(self.process)
        if self.log_file:
            self.log_file.close()
        return {"workers": self.workers, "start_rss_kb": self.start_rss, **end}


# ---------------------------------------------------------------------------------------------
# Where the machine's CPU goes


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pids) -> float:
    """CPU seconds (user + system, every thread) the processes `pids` have used so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):  # gone since it was listed
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle (/proc/stat: all but idle and iowait)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class CpuAccount:
    """The CPU each part of the stack spends during a scenario: the machine as a whole (/proc/stat),
    the site's workers (the server's processes), Redis, the load generator (this script's finished
    children: wrk or pgbench), and the rest: PostgreSQL (whose backends come and go with their
    connections), the kernel's network work, and whatever else the machine runs meanwhile.
    Divided by the answers, it says what one answer costs the machine, and where."""

    server: "Server | None" = None
    redis: subprocess.Popen | None = None

    def __init__(self):
        self.start = self._now()

    def _now(self) -> dict:
        server = self.server if self.server and self.server.process.poll() is None else None
        return {
            "workers": cpu_of([server.process.pid, *server.pids()]) if server else 0.0,
            "redis": cpu_of([self.redis.pid]) if self.redis else 0.0,
            "load_generator": _cpu_of_children(),
            "machine": _machine_busy(),
        }

    def spent(self) -> dict:
        """CPU seconds each part has spent since the account was opened, and the rest."""
        end = self._now()
        spent = {part: end[part] - self.start[part] for part in end}
        spent["rest"] = spent["machine"] - spent["workers"] - spent["redis"] - spent["load_generator"]
        return spent

    @staticmethod
    def per_answer_ms(spent: dict, answers: int) -> dict:
        return {part: round(seconds / max(answers, 1) * 1000, 3) for part, seconds in spent.items()}

    @staticmethod
    def load_generator_share(spent: dict, wall: float) -> float:
        """The load generator's share of the whole machine's CPU over `wall` seconds."""
        return round(spent["load_generator"] / wall / os.cpu_count(), 3)


# ---------------------------------------------------------------------------------------------
# Load generators


def run_wrk(
    script: str, rows: Path, *, duration: float, connections: int = CONNECTIONS, threads: int = 2, until_done=None
) -> dict:
    """Run wrk for `duration` seconds; with `until_done` (a folder), until each wrk thread has left
    a file there (its share of the rush is answered), then stop it with SIGINT, as Ctrl-C would."""
    wall, account = time.monotonic(), CpuAccount()
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", f"--timeout={WRK_TIMEOUT}s"]
    command += ["-s", f"bench/lua/{script}", BASE, "--", str(rows), str(threads), str(until_done or "")]
    wrk = spawn(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if until_done is not None:
        # Until every thread has its answers, or for RUSH_GRACE seconds once all is sent: a request
        # wrk built but never sent gets no answer (the check then reports it).
        deadline, sent = time.monotonic() + duration, False
        while time.monotonic() < deadline and len(list(Path(until_done).glob("done.*"))) < threads:
            if not sent and len(list(Path(until_done).glob("issued.*"))) == threads:
                sent, deadline = True, min(deadline, time.monotonic() + RUSH_GRACE)
            time.sleep(0.02)
        wrk.send_signal(signal.SIGINT)
    stdout, stderr = wrk.communicate(timeout=duration + 120)
    started.remove(wrk)
    wall, spent = time.monotonic() - wall, account.spent()
    print(f"  {script} {rows.name}: {wall:.1f} s", flush=True)
    line = next((line for line in stdout.splitlines() if line.startswith("BENCH-JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{stdout}\n{stderr}")
    report = json.loads(line.removeprefix("BENCH-JSON "))
    report["loadgen_cpu_share"] = CpuAccount.load_generator_share(spent, wall)
    answers = report["counted"] if until_done else report["requests"]
    report["cpu_ms_per_answer"] = CpuAccount.per_answer_ms(spent, answers)
    return report


def timed(script: str, rows: Path, *, duration: float) -> dict:
    """A timed scenario, run RUSH_RUNS times for duration / 2 seconds each (the machine's moods
    vary by the second): the run of median throughput, with every run's throughput."""
    return median_run(
        [
            summary(report, per_second(report))
            for report in (run_wrk(script, rows, duration=max(2, duration // 2)) for _ in range(RUSH_RUNS))
        ]
    )


def percentiles(sorted_ms: list[float], digits: int) -> dict:
    """p50/p95/p99 of latencies already sorted, in ms."""
    pick = lambda q: round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], digits)  # noqa: E731
    return {"p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99)}


def median_run(runs: list[dict]) -> dict:
    """The run of median throughput, with every run's throughput beside it."""
    return {**sorted(runs, key=lambda r: r["per_s"])[len(runs) // 2], "runs_per_s": [r["per_s"] for r in runs]}


def per_second(report: dict, *, counted_only: bool = False) -> float:
    """Throughput: counted answers over the span from the first request to the last answer (the
    rush ends when its attempts run out), else wrk's requests over its duration."""
    if counted_only:
        return report["counted"] / report["active_s"] if report["active_s"] else 0.0
    return report["requests"] / report["duration_s"]


def summary(report: dict, rate: float) -> dict:
    out = {
        "per_s": round(rate, 1),
        "p50_ms": report["p50_ms"],
        "p95_ms": report["p95_ms"],
        "p99_ms": report["p99_ms"],
        "statuses": report["statuses"],
        "socket_errors": {k: v for k, v in report["socket_errors"].items() if v},
        "sql_per_request": round(report["sql_all"] / max(report["counted"], 1), 2),
        "loadgen_cpu_share": report["loadgen_cpu_share"],
        "cpu_ms_per_answer": report["cpu_ms_per_answer"],
    }
    if report["n_win"]:
        out["sql_winner"] = {"mean": round(report["sql_win"] / report["n_win"], 2), "max": report["max_win"]}
    if report["n_lose"]:
        out["sql_loser"] = {"mean": round(report["sql_lose"] / report["n_lose"], 2), "max": report["max_lose"]}
    return out


# ---------------------------------------------------------------------------------------------
# The database


def fresh_database() -> None:
    import psycopg

    server, name = DATABASE_URL.rsplit("/", 1)
    if not name.endswith("_bench"):
        raise SystemExit("refusing to drop a database whose name does not end in _bench")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(workdir: Path) -> dict:
    """One hospital: the rush doctor (30 places in 6 slots), 20 doctors with a week of sessions,
    2,000 patients, each with its own account and app session token (X-Session-Token)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.models import Patient, User
    from accounts.phones import normalize_mobile
    from accounts.pii import phone_hash
    from accounts.tests.factories import PatientFactory
    from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalFactory
    from scheduling.tests.factories import make_session

    hospital = HospitalFactory()
    BookingRulesFactory(
        hospital=hospital,
        online_share=100,
        partner_share=0,
        window_share=0,
        clinic_share=0,
        days_ahead=14,
        max_active=50,
        max_per_month=50,
        max_per_hospital_per_day=50,
        max_per_department_per_day=50,
    )
    today = timezone.localdate()
    rush_doctor = DoctorFactory(hospital=hospital, registration_fee_fen=2000)
    rush = make_session(doctor=rush_doctor, places=RUSH_PLACES // RUSH_SLOTS, segments=RUSH_SLOTS)
    rush_slots = list(rush.slots.order_by("pk").values_list("pk", flat=True))

    doctors = []
    for _ in range(DOCTORS):
        doctor = DoctorFactory(hospital=hospital, registration_fee_fen=2000)
        sessions = [
            make_session(doctor=doctor, date=today + datetime.timedelta(days=day), places=6, segments=4)
            for day in range(1, DAYS + 1)
        ]
        slots = [list(s.slots.order_by("pk").values_list("pk", flat=True)) for s in sessions]
        doctors.append((doctor.pk, slots))

    password = make_password("bench-only")
    users = []
    for n in range(2000):
        user = User(phone=normalize_mobile(f"1390000{n:04d}"), phone_verified=True, name=f"患者{n}", password=password)
        user.phone_hash = phone_hash(user.phone)  # what User.save() does, which bulk_create skips
        users.append(user)
    users = User.objects.bulk_create(users)
    patients = []
    for n, user in enumerate(users):
        patient = PatientFactory.build(user=user, order=100000 + n)
        patient.id_number = patient.id_number.strip().upper()
        patient.id_number_hash = Patient.document_hash(patient.id_type, patient.id_number)
        patient.phone_hash = phone_hash(patient.phone)
        patients.append(patient)
    patients = Patient.objects.bulk_create(patients)
    sessions, tokens, session_data = [], [], []
    for user in users:
        store = SessionStore()
        key = store._get_new_session_key()
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "accounts.backends.PhoneBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=store.get_expiry_date()))
        tokens.append(key)
        session_data.append(data)
    Session.objects.bulk_create(sessions)
    session_cache = dict(zip(tokens, session_data, strict=True))
    warm_sessions(session_cache)

    rush_rows = workdir / "rush.txt"
    rush_rows.write_text(
        "".join(
            f"{t} {p.pk} {rush_slots[i % len(rush_slots)]}\n"
            for i, (t, p) in enumerate(zip(tokens, patients, strict=True))
        )
    )
    date_from, date_to = today + datetime.timedelta(days=1), today + datetime.timedelta(days=DAYS)
    browse = [f"/api/v1/doctors/{pk}/schedules/?date_from={date_from}&date_to={date_to}" for pk, _ in doctors]
    (workdir / "browse.txt").write_text("".join(f"{path}\n" for path in browse))
    (workdir / "bare.txt").write_text("".join(f"/bench/bare/ {t}\n" for t in tokens))
    (workdir / "noop.txt").write_text("/bench/noop/\n" * 2)  # a row for each wrk thread
    mixed = []
    for i, (token, patient) in enumerate(zip(tokens, patients, strict=True)):
        _pk, slots = doctors[i % DOCTORS]
        day = slots[i % DAYS]
        other = slots[(i + 1) % DAYS]
        slot, alt = day[(i // DOCTORS) % len(day)], other[(i // DOCTORS) % len(other)]
        mixed.append(f"{token} {patient.pk} {slot} {alt} {browse[i % DOCTORS]}\n")
    (workdir / "mixed.txt").write_text("".join(mixed))
    return {"rush_schedule": rush.pk, "rush_slots": rush_slots, "rush_rows": rush_rows, "sessions": session_cache}


def warm_sessions(sessions: dict) -> None:
    """The patients logged in before the release minute: their sessions are in the cache, as
    `cached_db` (SESSION_ENGINE) leaves them after a login. And each one's app has called the API
    since (the booking form lists the account's 就诊人), so the account's gate (accounts.headless)
    knows its session, as it would after that call."""
    from django.conf import settings
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX
    from django.core.cache import caches

    from accounts.headless import authenticate_app_token

    cache = caches[settings.SESSION_CACHE_ALIAS]
    cache.set_many({KEY_PREFIX + key: data for key, data in sessions.items()}, settings.SESSION_COOKIE_AGE)
    for token in sessions:
        authenticate_app_token(token)


def reset_rush(schedule_id: int, sessions: dict) -> None:
    """Back to the release second: no orders in the rush session, every place free, caches empty."""
    from django.utils import timezone

    from booking.models import Appointment
    from notifications.models import NotificationLog
    from scheduling.models import Schedule, Slot

    Appointment.objects.filter(schedule_id=schedule_id).delete()
    NotificationLog.objects.all().delete()
    Slot.objects.filter(schedule_id=schedule_id).update(booked=0, online_booked=0, is_open=True)
    Schedule.objects.filter(pk=schedule_id).update(release_at=timezone.now() - datetime.timedelta(seconds=1))
    redis_flush()
    warm_sessions(sessions)


def check_rush(schedule_id: int, report: dict, failures: list[str], label: str) -> None:
    from django.db.models import F

    from booking.models import Appointment
    from scheduling.models import Slot

    holding = Appointment.objects.filter(schedule_id=schedule_id, status__in=Appointment.PLACE_HOLDING).count()
    slots = Slot.objects.filter(schedule_id=schedule_id)
    capacity = sum(slots.values_list("capacity", flat=True))
    booked = sum(slots.values_list("booked", flat=True))
    statuses = report["statuses"]
    problems = []
    if holding != RUSH_PLACES or booked != capacity or booked != RUSH_PLACES:
        problems.append(f"{holding} place-holding appointments, booked {booked} of {capacity}")
    if slots.filter(online_booked__gt=F("online_capacity")).exists():
        problems.append("a slot is oversold")
    if Appointment.objects.count() != RUSH_PLACES:
        problems.append(f"{Appointment.objects.count()} appointments in the database, not {RUSH_PLACES}")
    if statuses.get("201", 0) != RUSH_PLACES:
        problems.append(f"{statuses.get('201', 0)} answers 201, not {RUSH_PLACES}")
    losers = report["counted"] - statuses.get("201", 0)
    if report["slot_full"] != losers or statuses.get("409", 0) != losers:
        problems.append(f"{losers} refusals, of which {report['slot_full']} are 409 slot_full")
    failures.extend(f"{label}: {problem}" for problem in problems)
    if report["counted"] != 2000:
        failures.append(f"{label}: {report['counted']} of 2,000 attempts answered")


def raw_floor(schedule_id: int, slots: list[int], workdir: Path) -> tuple[dict, list[str]]:
    """The same transaction (conditional UPDATE, INSERT of the order) straight through pgbench,
    2,000 attempts at the same concurrency: the database's limit."""
    from django.db import connection

    from scheduling.models import Slot

    Slot.objects.filter(schedule_id=schedule_id).update(booked=0, online_booked=0)

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_raw_order (id bigserial PRIMARY KEY, slot_id bigint, n int)")
        cursor.execute("TRUNCATE bench_raw_order")
    script = workdir / "raw.sql"
    script.write_text(
        f"\\set slot random({min(slots)}, {max(slots)})\n"
        "BEGIN;\n"
        "WITH won AS (UPDATE scheduling_slot SET booked = booked + 1, online_booked = online_booked + 1 "
        "WHERE id = :slot AND is_open AND online_booked < online_capacity RETURNING id, booked) "
        "INSERT INTO bench_raw_order (slot_id, n) SELECT id, booked FROM won;\n"
        "END;\n"
    )
    for old in glob.glob(str(workdir / "rawlog*")):
        os.remove(old)
    name = DATABASE_URL.rsplit("/", 1)[1]
    command = ["pgbench", "-n", "-h", "127.0.0.1", "-U", "postgres", f"-c{CONNECTIONS}", "-j2"]
    command += [f"-t{2000 // CONNECTIONS}", "-f", str(script), "-l", f"--log-prefix={workdir / 'rawlog'}", name]
    wall, account = time.monotonic(), CpuAccount()
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=300)
    wall, spent = time.monotonic() - wall, account.spent()
    if result.returncode:
        raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout).group(1))
    latencies = sorted(
        int(line.split()[2]) / 1000
        for path in glob.glob(str(workdir / "rawlog*"))
        for line in Path(path).read_text().splitlines()
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_raw_order")
        won = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_raw_order")
    failures = [] if won == RUSH_PLACES else [f"raw_floor: {won} orders for {RUSH_PLACES} places"]
    report = {
        "per_s": round(tps, 1),
        **percentiles(latencies, 3),
        "attempts": len(latencies),
        "won": won,
        "sql_per_request": 2,
        "loadgen_cpu_share": CpuAccount.load_generator_share(spent, wall),
        "cpu_ms_per_answer": CpuAccount.per_answer_ms(spent, len(latencies)),
    }
    return report, failures


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8, help="seconds per timed scenario")
    parser.add_argument("--rush-only", action="store_true", help="raw_floor and release_rush only (a quick look)")
    args = parser.parse_args()
    for tool in ("wrk", "pgbench", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (apt-get install wrk postgresql-client redis-server)")
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGHUP, stop_all)
    os.environ.update(ENV)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    started_at = datetime.datetime.now(datetime.UTC)
    results: dict = {"started_at": started_at.isoformat(timespec="seconds"), "machine_cpus": os.cpu_count()}
    failures: list[str] = []
    scenarios: dict = {}
    try:
        t0 = time.monotonic()
        start_redis()
        fresh_database()
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        data = seed(workdir)
        connection.close()
        print(f"setup: {time.monotonic() - t0:.0f} s (database, 2,000 patients with tokens, {DOCTORS} doctors)")

        floors = []
        for _ in range(RUSH_RUNS):
            floor, problems = raw_floor(data["rush_schedule"], data["rush_slots"], workdir)
            floors.append(floor)
            failures += problems
        scenarios["raw_floor"] = median_run(floors)
        print(f"  raw_floor: {scenarios['raw_floor']['per_s']:.0f}/s", flush=True)

        servers = {}
        for workers in (4, 2):
            server = Server(workers, access_log=workdir / f"access-{workers}.log")
            runs = []
            for run in range(RUSH_RUNS):  # the machine's moods vary: the median of a few rushes
                reset_rush(data["rush_schedule"], data["sessions"])
                connection.close()
                logged = server.logged_lines()
                done = workdir / f"rush-{workers}-{run}"
                done.mkdir()
                report = run_wrk("rush.lua", data["rush_rows"], duration=RUSH_DEADLINE, until_done=done)
                check_rush(data["rush_schedule"], report, failures, f"release_rush ({workers} workers, run {run + 1})")
                runs.append(
                    {
                        **summary(report, per_second(report, counted_only=True)),
                        "attempts_answered": report["counted"],
                        "in_server": server.server_times("/api/v1/appointments/", after=logged),
                    }
                )
            scenarios[f"release_rush_{workers}w"] = median_run(runs)
            servers[workers] = server
            if workers == 4:
                scenarios["release_rush_4w"]["memory"] = server.close()
        server = servers[2]
        if args.rush_only:
            server.close()
            raise _RushOnly
        d = args.duration
        scenarios["bare_endpoint"] = timed("get.lua", workdir / "bare.txt", duration=d)
        scenarios["django_floor"] = timed("get.lua", workdir / "noop.txt", duration=max(2, d // 2))
        scenarios["browse_cached"] = timed("get.lua", workdir / "browse.txt", duration=d)

        etags = []
        for name in ("Schedule", "Slot"):
            with urllib.request.urlopen(f"{BASE}/fhir/r4/bulk/{name}.ndjson", timeout=30) as answer:
                etags.append((f"/fhir/r4/bulk/{name}.ndjson", answer.headers["ETag"].strip('"')))
        (workdir / "fhir.txt").write_text("".join(f"{path} -\n" for path, _ in etags))
        (workdir / "fhir304.txt").write_text("".join(f"{path} - {etag}\n" for path, etag in etags))
        scenarios["fhir_feed_full"] = timed("get.lua", workdir / "fhir.txt", duration=max(2, d // 2))
        scenarios["fhir_feed_304"] = timed("get.lua", workdir / "fhir304.txt", duration=max(2, d // 2))
        scenarios["mixed_day"] = summary(
            report := run_wrk("mixed.lua", workdir / "mixed.txt", duration=d), per_second(report)
        )
        scenarios["mixed_day"]["memory"] = memory = server.close()
        if memory["rss_kb"] > 1.5 * memory["start_rss_kb"]:
            failures.append(f"a worker grew from {memory['start_rss_kb']} kB to {memory['rss_kb']} kB")

        server = Server(2, SCHEDULES_CACHE_SECONDS="0")
        scenarios["browse_uncached"] = timed("get.lua", workdir / "browse.txt", duration=d)
        scenarios["browse_uncached"]["memory"] = server.close()

        for name, scenario in scenarios.items():
            bad = {status: n for status, n in scenario.get("statuses", {}).items() if status.startswith("5")}
            if bad:
                failures.append(f"{name}: server errors {bad}")
    except _RushOnly:
        pass
    finally:
        results["seconds"] = round(time.monotonic() - t0)
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    results["scenarios"] = scenarios
    results["ratios"] = ratios(scenarios)
    results["failures"] = failures
    out = ROOT / "bench" / "results" / f"{started_at:%Y-%m-%d}{'-rush' if args.rush_only else ''}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_table(scenarios, results["ratios"])
    print(f"\nwritten: {out.relative_to(ROOT)}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


class _RushOnly(Exception):
    """--rush-only: the rest of the scenarios are skipped."""


def ratios(s: dict) -> dict:
    raw = s["raw_floor"]
    rush = {f"rush_{w}w_to_raw_floor": round(s[f"release_rush_{w}w"]["per_s"] / raw["per_s"], 3) for w in (2, 4)}
    if "bare_endpoint" not in s:  # --rush-only
        return rush
    bare = s["bare_endpoint"]
    best = max((s[k] for k in ("release_rush_2w", "release_rush_4w")), key=lambda r: r["per_s"])
    return {
        **rush,
        "rush_2w_to_bare_endpoint": round(s["release_rush_2w"]["per_s"] / bare["per_s"], 3),
        "rush_4w_to_bare_endpoint": round(s["release_rush_4w"]["per_s"] / bare["per_s"], 3),
        "django_floor_to_raw_floor": round(s["django_floor"]["per_s"] / raw["per_s"], 3),
        "rush_best_p99_to_raw_floor_p99": round(best["p99_ms"] / raw["p99_ms"], 2),
        "browse_cached_to_uncached": round(s["browse_cached"]["per_s"] / s["browse_uncached"]["per_s"], 2),
        "browse_cached_to_bare_endpoint": round(s["browse_cached"]["per_s"] / bare["per_s"], 3),
        "fhir_304_to_full": round(s["fhir_feed_304"]["per_s"] / s["fhir_feed_full"]["per_s"], 2),
        "mixed_day_to_bare_endpoint": round(s["mixed_day"]["per_s"] / bare["per_s"], 3),
    }


def print_table(scenarios: dict, ratio: dict) -> None:
    print(
        f"\n{'scenario':<18}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'SQL/req':>9}  "
        f"{'win/lose SQL':<13}{'loadgen CPU':>12}  statuses"
    )
    for name, r in scenarios.items():
        sql = "/".join(str(r[k]["mean"]) for k in ("sql_winner", "sql_loser") if k in r) or "-"
        print(
            f"{name:<18}{r['per_s']:>9.0f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['sql_per_request']:>9}  {sql:<13}{r['loadgen_cpu_share']:>11.0%}  {r.get('statuses', '')}"
        )
    for name, r in scenarios.items():
        if "runs_per_s" in r:
            print(f"{name}: {len(r['runs_per_s'])} runs, per s {r['runs_per_s']} (the median one is shown)")
    for name, r in scenarios.items():
        if r.get("in_server"):
            t = r["in_server"]
            print(
                f"in the server {name}: p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms, p99 {t['p99_ms']} ms, "
                f"max {t['max_ms']} ms (the rest of each answer's time is waiting in line at {CONNECTIONS} connections)"
            )
    head = f"{'machine':>8}{'workers':>9}{'Redis':>7}{'loadgen':>8}{'rest':>7}"
    print(f"\nCPU per answer, ms  {head}  (rest: PostgreSQL, the kernel, anything else)")
    for name, r in scenarios.items():
        if c := r.get("cpu_ms_per_answer"):
            print(
                f"  {name:<18}{c['machine']:>8.3f}{c['workers']:>9.3f}{c['redis']:>7.3f}"
                f"{c['load_generator']:>8.3f}{c['rest']:>7.3f}"
            )
    for name, r in scenarios.items():
        if "memory" in r:
            m = r["memory"]
            print(
                f"memory {name}: {m['workers']} workers, largest {m['start_rss_kb'] // 1024} MB at start, "
                f"{m['rss_kb'] // 1024} MB after, peak {m['peak_kb'] // 1024} MB"
            )
    print()
    for name, value in ratio.items():
        print(f"{name:<34}{value:>8}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()
