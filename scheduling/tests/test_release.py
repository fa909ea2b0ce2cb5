import datetime
import io
import logging
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from booking.tests.conftest import side_effects
from hospital.beat import release_entry_name, sync_release_entry
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalFactory, HospitalStaffFactory
from scheduling.models import Period, Release, Schedule, ScheduleTemplate
from scheduling.services import release_day, release_due
from scheduling.signals import day_released

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


def every_day_template(doctor, places=4):
    for weekday in range(7):
        ScheduleTemplate.objects.create(
            doctor=doctor,
            department=doctor.departments.first(),
            weekday=weekday,
            period=Period.MORNING,
            start_time=datetime.time(8, 0),
            end_time=datetime.time(9, 0),
            segment_minutes=30,
            places_per_segment=places,
        )


@pytest.fixture
def hospital(db):
    hospital = HospitalFactory()
    BookingRulesFactory(hospital=hospital, days_ahead=7, release_time=datetime.time(15, 0))
    every_day_template(DoctorFactory(hospital=hospital))
    return hospital


@pytest.fixture
def announced():
    calls = []

    def receiver(sender, hospital_id, day, schedule_ids, **kwargs):
        calls.append((hospital_id, day, tuple(schedule_ids)))

    day_released.connect(receiver, dispatch_uid="test_release.announced")
    yield calls
    day_released.disconnect(dispatch_uid="test_release.announced")


TODAY = datetime.date(2026, 12, 1)


def test_release_generates_publishes_records_and_announces_after_commit(
    hospital, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        released = release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 0))
        assert announced == []  # nothing is announced before the commit
    day = TODAY + datetime.timedelta(days=7)
    assert [r.day for r in released] == [day]
    release = Release.objects.get(hospital=hospital)
    assert release.places == 8 and release.moment == at(TODAY, 15, 0) and release.due_at == at(TODAY, 15, 0)
    session = Schedule.objects.get(doctor__hospital=hospital, date=day)
    assert session.status == Schedule.Status.PUBLISHED
    announcing = side_effects(callbacks)  # without the browse cache's upkeep
    assert len(announcing) == 1
    announcing[0]()
    assert announced == [(hospital.pk, day, (session.pk,))]


def test_release_before_the_moment_does_not_touch_the_new_day(hospital, django_capture_on_commit_callbacks):
    release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 0))
    with django_capture_on_commit_callbacks(execute=True):
        early = release_day(hospital_id=hospital.pk, now=at(TODAY + datetime.timedelta(days=1), 14, 59))
    assert early == []
    assert Release.objects.count() == 1


def test_a_second_run_is_a_no_op_and_announces_nothing(hospital, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 0))
        again = release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 1))
    assert again == []
    assert Release.objects.count() == 1 and len(announced) == 1


def test_days_missed_while_down_are_caught_up_once_in_order(hospital, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 0))
        later = release_day(hospital_id=hospital.pk, now=at(TODAY + datetime.timedelta(days=3), 19, 30))
        release_day(hospital_id=hospital.pk, now=at(TODAY + datetime.timedelta(days=3), 19, 40))
    expected = [TODAY + datetime.timedelta(days=d) for d in (8, 9, 10)]
    assert [r.day for r in later] == expected
    assert [call[1] for call in announced] == [TODAY + datetime.timedelta(days=7), *expected]
    missed = Release.objects.get(hospital=hospital, day=expected[0])
    assert missed.is_late and missed.due_at == at(TODAY + datetime.timedelta(days=1), 15, 0)


def test_a_raising_receiver_is_logged_not_fatal(hospital, announced, caplog, django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise RuntimeError("cache down")

    day_released.connect(broken, dispatch_uid="test_release.broken")
    try:
        with (
            caplog.at_level(logging.ERROR, logger="scheduling"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 0))
    finally:
        day_released.disconnect(dispatch_uid="test_release.broken")
    assert len(announced) == 1
    assert "cache down" in caplog.text


def test_one_hospitals_failure_does_not_stop_another(hospital, monkeypatch, caplog):
    other = HospitalFactory()
    every_day_template(DoctorFactory(hospital=other))
    from scheduling import services

    real = services.generate_schedules

    def failing(*, hospital, **kwargs):
        if hospital.pk == other.pk:
            raise RuntimeError("template broken")
        return real(hospital=hospital, **kwargs)

    monkeypatch.setattr(services, "generate_schedules", failing)
    with caplog.at_level(logging.ERROR, logger="scheduling"):
        done = release_due(now=at(TODAY, 15, 5))
    assert done == {hospital.pk: 1}
    assert list(Release.objects.values_list("hospital_id", flat=True)) == [hospital.pk]
    assert "template broken" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_release_once(hospital, announced):
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(len(release_day(hospital_id=hospital.pk, now=at(TODAY, 15, 0))))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert Release.objects.count() == 1 and len(announced) == 1


def test_changing_the_release_time_moves_the_beat_entry(db, django_capture_on_commit_callbacks):
    hospital = HospitalFactory()
    with django_capture_on_commit_callbacks(execute=True):
        rules = BookingRulesFactory(hospital=hospital, release_time=datetime.time(15, 0))
    entry = PeriodicTask.objects.get(name=release_entry_name(hospital.pk))
    assert (entry.crontab.hour, entry.crontab.minute, str(entry.crontab.timezone)) == ("15", "0", "Asia/Shanghai")
    assert entry.task == "scheduling.tasks.release_day_task" and entry.args == f"[{hospital.pk}]"
    with django_capture_on_commit_callbacks(execute=True):
        rules.release_time = datetime.time(16, 30)
        rules.save()
    entry.refresh_from_db()
    assert (entry.crontab.hour, entry.crontab.minute) == ("16", "30")
    sync_release_entry(hospital_id=hospital.pk)
    assert PeriodicTask.objects.filter(name__startswith="release: ").count() == 1


def test_setup_periodic_tasks_creates_one_release_entry_per_hospital(hospital):
    other = HospitalFactory()
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    names = set(PeriodicTask.objects.filter(task="scheduling.tasks.release_day_task").values_list("name", flat=True))
    assert names == {release_entry_name(hospital.pk), release_entry_name(other.pk)}


def test_admin_shows_a_release_not_done_within_ten_minutes(hospital, client):
    other = HospitalFactory()
    Release.objects.create(
        hospital=hospital,
        day=TODAY + datetime.timedelta(days=6),
        due_at=at(TODAY - datetime.timedelta(days=1), 15),
        moment=at(TODAY - datetime.timedelta(days=1), 15),
    )
    client.force_login(HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.SCHEDULER).user)
    with time_machine.travel(at(TODAY, 15, 9), tick=False):
        on_time = client.get(reverse("admin:scheduling_release_changelist"))
    with time_machine.travel(at(TODAY, 15, 11), tick=False):
        late = client.get(reverse("admin:scheduling_release_changelist"))
    assert on_time.status_code == late.status_code == 200
    assert [str(m) for m in on_time.context["messages"]] == []
    texts = [str(m) for m in late.context["messages"]]
    assert texts == [f"{hospital.name} {TODAY + datetime.timedelta(days=7)} 的号应于 12-01 15:00 放出，至今未放号。"]
    assert other.name not in late.content.decode()


def test_release_status_prints_the_last_seven_days(hospital):
    with time_machine.travel(at(TODAY - datetime.timedelta(days=1), 15, 0), tick=False):
        release_day(hospital_id=hospital.pk)
    out = io.StringIO()
    with time_machine.travel(at(TODAY, 16, 0), tick=False):
        call_command("release_status", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{hospital.name} (#{hospital.pk})"
    assert len(lines) == 8
    assert lines[-2].startswith(
        f"  day {TODAY + datetime.timedelta(days=6)} due {TODAY - datetime.timedelta(days=1)} 15:00 released"
    )
    assert lines[-2].endswith("places 8 ok")
    assert lines[-1] == f"  day {TODAY + datetime.timedelta(days=7)} due {TODAY} 15:00 MISSING (overdue)"


def test_the_daily_release_tells_each_doctor_subscriber_once(hospital, django_capture_on_commit_callbacks):
    from accounts.tests.factories import UserFactory
    from booking.alerts import subscribe_to_doctor
    from notifications.models import NotificationLog

    doctor = hospital.doctors.get()
    subscribers = [UserFactory(), UserFactory()]
    for user in subscribers:
        subscribe_to_doctor(user=user, doctor=doctor)
    for run in range(2):  # the second run (a second beat, a retry) releases and tells nothing more
        with django_capture_on_commit_callbacks(execute=True):
            release_day(hospital_id=hospital.pk, now=at(TODAY, 15, run))
    told = NotificationLog.objects.filter(template="alert_day_released")
    assert sorted(told.values_list("phone", flat=True)) == sorted(user.phone for user in subscribers)
    assert Release.objects.filter(hospital=hospital).count() == 1
