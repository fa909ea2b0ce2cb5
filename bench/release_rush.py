"""Release-time rush: many patients press "book" at once; compare book_slot with a raw-SQL floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hospital_bench .venv/bin/python bench/release_rush.py

It drops and re-creates the named database (its name must end in `_bench`), migrates it,
then runs, with the same threads and the same number of attempts:
- `book_slot`: the full service — rule checks, patient lock, conditional UPDATE, numbering,
  the order insert (SMS are queued on commit to the eager console backend);
- raw floor: the same conditional UPDATE plus a bare INSERT through psycopg, nothing else.
It prints attempts, places won, throughput and latency percentiles for both.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hospital_bench")
os.environ.setdefault("DJANGO_DEBUG", "1")
# SMS are queued, as in production, to an in-memory broker that no worker drains.
os.environ.setdefault("CELERY_BROKER_URL", "memory://")


def fresh_database(url: str) -> None:
    """Drop and create the benchmark's own database, so every run starts empty."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    if not name.endswith("_bench"):
        raise SystemExit("refusing to drop a database whose name does not end in _bench")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _percentiles(samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000  # noqa: E731
    return f"p50 {pick(0.5):.1f} ms, p95 {pick(0.95):.1f} ms, p99 {pick(0.99):.1f} ms"


def _race(label, calls, threads):
    """Run `calls` (each returns True when it won a place) on `threads` threads behind one barrier."""
    from django.db import connection

    barrier = threading.Barrier(threads)
    latencies, won, lock = [], [0], threading.Lock()
    chunks = [calls[i::threads] for i in range(threads)]

    def worker(chunk):
        barrier.wait()
        for call in chunk:
            started = time.perf_counter()
            ok = call()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                won[0] += bool(ok)
        connection.close()

    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    print(
        f"{label:<10} {len(calls):>6} attempts  {won[0]:>5} places won  "
        f"{len(calls) / wall:>8.0f} attempts/s  {_percentiles(latencies)}"
    )
    return won[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=600)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--places", type=int, default=10, help="places per slot (4 slots per session)")
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()

    fresh_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from accounts.tests.factories import PatientFactory
    from booking import errors
    from booking.services import book_slot
    from hospital.tests.factories import BookingRulesFactory, DoctorFactory
    from scheduling.models import Slot
    from scheduling.tests.factories import make_session

    print(f"building {args.sessions} sessions × 4 slots × {args.places} places, {args.patients} patients …")
    slots = []
    for _ in range(args.sessions):
        doctor = DoctorFactory(registration_fee_fen=2000)
        BookingRulesFactory(hospital=doctor.hospital, online_share=100, partner_share=0, window_share=0, clinic_share=0)
        slots += list(make_session(doctor=doctor, places=args.places, segments=4).slots.all())
    patients = PatientFactory.create_batch(args.patients)
    capacity = sum(s.capacity for s in slots)

    # Every patient tries every slot of one session in turn until one sticks: the rush.
    def service_call(patient, slot):
        def call():
            try:
                book_slot(user=patient.user, patient=patient, slot=slot)
                return True
            except errors.BookingError:
                return False

        return call

    calls = [service_call(p, slots[(i * 7 + j) % len(slots)]) for i, p in enumerate(patients) for j in range(3)]
    print(f"{capacity} places, {len(calls)} attempts, {args.threads} threads")
    won = _race("book_slot", calls, args.threads)
    assert won <= capacity

    # Raw floor: the same conditional UPDATE and an INSERT into a bare table, nothing else.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_raw_order (id bigserial PRIMARY KEY, slot_id bigint, n int)")
        cursor.execute("TRUNCATE bench_raw_order")
    Slot.objects.filter(pk__in=[s.pk for s in slots]).update(booked=0, online_booked=0)

    def raw_call(slot_id):
        def call():
            with connection.cursor() as cursor, connection.constraint_checks_disabled():
                cursor.execute("BEGIN")
                cursor.execute(
                    "UPDATE scheduling_slot SET booked = booked + 1, online_booked = online_booked + 1 "
                    "WHERE id = %s AND online_booked < online_capacity RETURNING booked",
                    [slot_id],
                )
                row = cursor.fetchone()
                if row:
                    cursor.execute("INSERT INTO bench_raw_order (slot_id, n) VALUES (%s, %s)", [slot_id, row[0]])
                cursor.execute("COMMIT")
                return bool(row)

        return call

    raw_calls = [raw_call(slots[(i * 7 + j) % len(slots)].pk) for i in range(len(patients)) for j in range(3)]
    _race("raw floor", raw_calls, args.threads)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_order")
    booked = sum(Slot.objects.filter(pk__in=[s.pk for s in slots]).values_list("booked", flat=True))
    print(f"raw floor left booked={booked} of {capacity} places (never above)")


if __name__ == "__main__":
    main()
