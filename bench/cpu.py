"""Where a request's time goes: CPU per request of the benchmark's endpoints, in one process.

Runs after `make bench`, on the database it leaves (`hospital_bench`), through Django's test client
with the benchmark's settings and a real Redis cache (BENCH_PROFILE_CACHE_URL, default
redis://127.0.0.1:6379/15, flushed first). No server and no load generator: only this process's
CPU time, so the figures hold still on a busy machine far better than throughput does.

    .venv/bin/python bench/cpu.py                 # CPU ms per request: noop, bare, browse, rush
    .venv/bin/python bench/cpu.py win             # and a winning booking (on its own: see below)
    .venv/bin/python bench/cpu.py rush --cprofile # and where it goes (cProfile, by cumulative time)

`rush` is a refused attempt on a sold-out slot (the release minute's common case): the
first one refuses through the database and sets the sold-out mark; the measured ones meet it.
`win` is a booking that gets its place (the other doctors' week, each patient once per round;
the places are given back between rounds, outside the measured time and the profile). Each
booking refreshes its doctor's cached schedules, which `browse` reads, so `win` runs only when
named.
"""

import argparse
import cProfile
import datetime
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import ENV  # noqa: E402  (the benchmark's settings, limits and throttle windows)

os.environ.update(
    {
        **ENV,  # its database (BENCH_DATABASE_URL) included
        # `make bench` stops its own Redis when it ends: the machine's, in a database of its own
        "CACHE_URL": os.environ.get("BENCH_PROFILE_CACHE_URL", "redis://127.0.0.1:6379/15"),
        "CELERY_BROKER_URL": "memory://",
    }
)

KINDS = ("noop", "bare", "browse", "rush", "win")
ROUNDS, PER_ROUND = 5, 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="*", metavar="kind", help=f"of {', '.join(KINDS)} (default: all but win)")
    parser.add_argument("--cprofile", action="store_true", help="print the top functions by cumulative time")
    args = parser.parse_args()
    args.kinds = args.kinds or [kind for kind in KINDS if kind != "win"]
    if unknown := set(args.kinds) - set(KINDS):
        parser.error(f"unknown kind: {', '.join(sorted(unknown))}")

    import django

    django.setup()
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.cache import cache
    from django.db.models import F
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Patient
    from booking.models import Appointment
    from hospital.models import Doctor
    from notifications.models import NotificationLog
    from scheduling.models import Slot

    cache.clear()
    started_at = timezone.now()
    tokens = list(Session.objects.values_list("session_key", flat=True)[:300])
    if not tokens:
        raise SystemExit("no sessions in hospital_bench: run `make bench` first")
    patient_of = dict(Patient.objects.values_list("user_id", "pk"))
    people = [(token, patient_of[int(SessionStore(token).load()[SESSION_KEY])]) for token in tokens]
    full = Slot.objects.filter(online_booked=F("online_capacity"), online_capacity__gt=0).values_list("pk", flat=True)
    if not full:
        raise SystemExit("no sold-out slot in hospital_bench: run `make bench` first")
    today = timezone.localdate()
    week = f"date_from={today + datetime.timedelta(days=1)}&date_to={today + datetime.timedelta(days=7)}"
    browse = [f"/api/v1/doctors/{pk}/schedules/?{week}" for pk in Doctor.objects.values_list("pk", flat=True)]
    open_slots = {}  # one untouched slot with room for two in each session that has one
    roomy = Slot.objects.filter(online_capacity__gte=2, booked=0, appointments__isnull=True, schedule__date__gt=today)
    for slot_id, schedule_id in roomy.values_list("pk", "schedule_id"):
        open_slots.setdefault(schedule_id, slot_id)
    open_slots = list(open_slots.values())
    client = Client()
    won = []

    def give_back_places():  # what the measured bookings took, and nothing else
        Appointment.objects.filter(order_no__in=won).delete()
        NotificationLog.objects.filter(created_at__gte=started_at).delete()
        Slot.objects.filter(pk__in=open_slots).update(booked=0, online_booked=0)
        won.clear()

    booked = set(Appointment.objects.values_list("patient_id", flat=True))
    newcomers = []  # winners: patients with no order yet (the day's mix leaves some)
    for token in Session.objects.values_list("session_key", flat=True):
        patient = patient_of[int(SessionStore(token).load()[SESSION_KEY])]
        if patient not in booked:
            newcomers.append((token, patient))
        if len(newcomers) == PER_ROUND:
            break

    def request(kind: str, n: int):
        crowd = newcomers if kind == "win" else people
        token, patient = crowd[n % len(crowd)]
        if kind == "noop":
            return client.get("/bench/noop/")
        if kind == "bare":
            return client.get("/bench/bare/", HTTP_X_SESSION_TOKEN=token)
        if kind == "browse":
            return client.get(browse[n % len(browse)])
        slots = full if kind == "rush" else open_slots
        body = {"patient": patient, "slot": slots[n % len(slots)]}
        response = client.post(
            "/api/v1/appointments/", body, content_type="application/json", HTTP_X_SESSION_TOKEN=token
        )
        if response.status_code == 201:
            won.append(response.json()["order_no"])
        return response

    expected = {"noop": 200, "bare": 200, "browse": 200, "rush": 409, "win": 201}
    for kind in args.kinds:  # warm: imports, connections, caches, sold-out marks
        for n in range(PER_ROUND if kind == "win" else len(people)):
            response = request(kind, n)
            if response.status_code != expected[kind]:
                raise SystemExit(f"{kind}: answered {response.status_code}: {response.content[:200]!r}")
        if kind == "win":
            give_back_places()

    profiler = cProfile.Profile() if args.cprofile else None
    spent = dict.fromkeys(args.kinds, 0.0)
    if profiler:
        profiler.enable()
    for _ in range(ROUNDS):  # interleaved, so a slow moment of the machine falls on every kind alike
        for kind in args.kinds:
            started = time.process_time()
            for n in range(PER_ROUND):
                request(kind, n)
            spent[kind] += time.process_time() - started
            if kind == "win":  # neither timed nor profiled
                if profiler:
                    profiler.disable()
                give_back_places()
                if profiler:
                    profiler.enable()
    if profiler:
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "60")))
    for kind in args.kinds:
        print(f"{kind:<8}{spent[kind] / (ROUNDS * PER_ROUND) * 1000:7.2f} ms CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
