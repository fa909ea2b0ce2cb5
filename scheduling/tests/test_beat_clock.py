"""Beat under time control: the real django-celery-beat DatabaseScheduler, ticking on a clock
driven by time-machine through simulated days in Asia/Shanghai, with the project's own beat
entries (setup_periodic_tasks). Each task beat sends runs at once, in process, as a worker
would, at the simulated moment.

Restarting beat is a new scheduler instance; a graceful stop syncs (`close()`), a kill -9
loses whatever was not synced yet (the scheduler's exit hook is cancelled and its dirty set
dropped).
"""

import datetime
import io
import uuid
from collections import Counter
from types import SimpleNamespace

import pytest
import time_machine
from celery import Celery
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat import schedulers
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.tests.factories import PatientFactory
from booking.models import Appointment, VisitReminder
from booking.services import book_slot, cancel_appointment
from config.celery import app as real_app
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalFactory
from notifications.models import NotificationLog
from scheduling.models import Release
from scheduling.tests.factories import make_session
from scheduling.tests.test_release import every_day_template

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
START = datetime.datetime(2026, 12, 7, 0, 0, tzinfo=SHANGHAI)  # a Monday, midnight in Shanghai
UNDER_TEST = {
    "scheduling.tasks.release_day_task",
    "scheduling.tasks.release_due_task",
    "booking.tasks.send_visit_reminders_task",
}


def day(n: int) -> datetime.date:
    return (START + datetime.timedelta(days=n)).date()


def at(n: int, hour: int, minute: int = 0, second: int = 0) -> datetime.datetime:
    return START + datetime.timedelta(days=n, hours=hour, minutes=minute, seconds=second)


class Beat:
    """Beat processes over one simulated clock; `sent` is every task any of them sent, with when."""

    def __init__(self, traveller):
        self.traveller = traveller
        self.sent: list[tuple[datetime.datetime, str, tuple]] = []
        self.running: list[schedulers.DatabaseScheduler] = []

    def start(self):
        beat = self

        class RecordingApp(Celery):
            def send_task(self, name, args=None, kwargs=None, **options):
                args = tuple(args or ())
                beat.sent.append((timezone.now(), name, args))
                real_app.tasks[name](*args, **(kwargs or {}))  # the worker, at this moment
                return SimpleNamespace(id=str(uuid.uuid4()))

        fake = RecordingApp(f"beat-{len(self.running)}", set_as_current=False)
        fake.config_from_object("django.conf:settings", namespace="CELERY")
        fake.conf.broker_url = "memory://"
        fake.conf.task_always_eager = False  # sent through send_task above, recorded, then run
        scheduler = schedulers.DatabaseScheduler(app=fake, max_interval=300)
        self.running.append(scheduler)
        return scheduler

    def stop(self, scheduler):
        scheduler.close()
        self.running.remove(scheduler)

    def kill(self, scheduler):
        """kill -9: nothing more is written."""
        scheduler._finalize.cancel()
        scheduler._dirty.clear()
        self.running.remove(scheduler)

    def run_until(self, moment: datetime.datetime, *, stop_after_send_of: str | None = None):
        """Tick every running beat until `moment` (or right after it sends `stop_after_send_of`)."""
        sent_before = len(self.sent)
        while timezone.now() < moment:
            delays = [scheduler.tick() for scheduler in list(self.running)]
            if stop_after_send_of and any(name == stop_after_send_of for _, name, _ in self.sent[sent_before:]):
                return
            left = (moment - timezone.now()).total_seconds()
            self.traveller.shift(max(min([*delays, left]), 0.05))

    def sends(self, name: str, *, args: tuple | None = None) -> list[datetime.datetime]:
        return [when for when, sent, sent_args in self.sent if sent == name and (args is None or sent_args == args)]


@pytest.fixture(autouse=True)
def _one_connection(monkeypatch):
    """Beat closes stale connections every tick; inside the test's transaction there is only one."""
    monkeypatch.setattr(schedulers, "close_old_connections", lambda: None)
    # Beat reloads its entries from the database every 5 minutes (which is also when a crontab
    # entry comes within the 2 hours ahead it loads); with simulated time flying by that would
    # be nearly every tick. Every 30 simulated minutes still loads each entry well ahead.
    monkeypatch.setattr(schedulers, "SCHEDULE_SYNC_MAX_INTERVAL", 1800)


@pytest.fixture
def hospitals(db):
    early = HospitalFactory()
    late = HospitalFactory()
    BookingRulesFactory(hospital=early, release_time=datetime.time(8, 30), online_share=100, partner_share=0,
                        window_share=0, clinic_share=0)  # fmt: skip
    BookingRulesFactory(hospital=late, release_time=datetime.time(15, 0), online_share=100, partner_share=0,
                        window_share=0, clinic_share=0)  # fmt: skip
    for hospital in (early, late):
        every_day_template(DoctorFactory(hospital=hospital, registration_fee_fen=0), places=2)
        # Released the day before the simulation starts (else the first sweep releases day 6).
        due = datetime.datetime.combine(day(-1), hospital.booking_rules.get().release_time, tzinfo=SHANGHAI)
        Release.objects.create(hospital=hospital, day=day(6), due_at=due, moment=due)
    return early, late


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        call_command("setup_periodic_tasks", stdout=io.StringIO())
        PeriodicTask.objects.exclude(task__in=UNDER_TEST).update(enabled=False)
        # The sweeps every 30 simulated minutes instead of 10: the same guarantees in a third of
        # the ticks (each send is a real task run and a real beat sync).
        every_half_hour, _ = IntervalSchedule.objects.get_or_create(every=1800, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.filter(interval__isnull=False, enabled=True).update(interval=every_half_hour)
        yield Beat(traveller)


def release_task_days(beat: Beat, hospital) -> Counter:
    return Counter(
        timezone.localtime(when).date() for when in beat.sends("scheduling.tasks.release_day_task", args=(hospital.pk,))
    )


def test_seven_days_with_two_restarts_release_once_a_day_and_remind_once(hospitals, clock):
    early, late = hospitals
    doctor = early.doctors.get()
    booked = []
    for n in (1, 2, 3, 5):
        slot = make_session(doctor=doctor, date=day(n), places=3).slots.get()
        patient = PatientFactory()
        booked.append(book_slot(user=patient.user, patient=patient, slot=slot))
    Appointment.objects.filter(pk__in=[a.pk for a in booked]).update(status=Appointment.Status.CONFIRMED)
    dropped = booked.pop()
    cancel_appointment(user=dropped.patient.user, appointment=dropped)

    scheduler = clock.start()
    clock.run_until(at(2, 14, 59))
    clock.run_until(at(2, 15, 5), stop_after_send_of="scheduling.tasks.release_day_task")
    assert clock.sent[-1][1:] == ("scheduling.tasks.release_day_task", (late.pk,))
    clock.kill(scheduler)  # killed right after sending the 15:00 release, before anything else
    scheduler = clock.start()
    clock.run_until(at(4, 12))
    clock.stop(scheduler)
    scheduler = clock.start()
    clock.run_until(at(7, 0))

    for hospital in (early, late):
        releases = list(Release.objects.filter(hospital=hospital, day__gte=day(7)).order_by("day"))
        assert [r.day for r in releases] == [day(n + 7) for n in range(7)]
        assert all(r.moment - r.due_at < datetime.timedelta(seconds=60) for r in releases)
        assert release_task_days(clock, hospital) == {day(n): 1 for n in range(7)}  # sent once a day, no resend
    kinds = Counter(VisitReminder.objects.values_list("appointment_id", "kind"))
    assert kinds == {(a.pk, kind): 1 for a in booked for kind in ("day_before", "soon")}
    assert NotificationLog.objects.filter(template="visit_reminder_link").count() == 2 * len(booked)
    assert not VisitReminder.objects.filter(appointment=dropped).exists()
    per_day = Counter(r.day for r in Release.objects.filter(day__gte=day(7)))
    print(
        f"\nFIGURE beat, 7 simulated days, 2 restarts: releases per day {sorted(set(per_day.values()))} "
        f"(2 hospitals, {len(per_day)} days), {len(kinds)} reminders for {len(booked)} visits, each sent once"
    )


def test_two_beats_by_mistake_release_once(hospitals, clock):
    early, late = hospitals
    clock.start()
    clock.start()
    clock.run_until(at(1, 16))
    for hospital in (early, late):
        assert release_task_days(clock, hospital) == {day(0): 2, day(1): 2}  # both beats sent it
        released = Release.objects.filter(hospital=hospital, day__gte=day(7)).order_by("day")
        assert list(released.values_list("day", flat=True)) == [day(7), day(8)]  # once each


def test_a_release_missed_for_hours_is_caught_up_once_and_never_fired_early_next_day(hospitals, clock):
    _early, late = hospitals
    scheduler = clock.start()
    clock.run_until(at(0, 14, 50))
    clock.kill(scheduler)  # beat down from 14:50 …
    clock.traveller.move_to(at(0, 18, 30))  # … to 18:30
    clock.start()
    clock.run_until(at(1, 16))

    caught_up = Release.objects.get(hospital=late, day=day(7))
    assert at(0, 18, 30) <= caught_up.moment <= at(0, 19, 1) and caught_up.is_late  # the next sweep
    next_day = Release.objects.get(hospital=late, day=day(8))
    assert next_day.moment - next_day.due_at < datetime.timedelta(seconds=60)
    late_sends = clock.sends("scheduling.tasks.release_day_task", args=(late.pk,))
    assert [timezone.localtime(when).strftime("%d %H:%M") for when in late_sends] == ["08 15:00"]
    assert Release.objects.filter(hospital=late, day__gte=day(7)).count() == 2
