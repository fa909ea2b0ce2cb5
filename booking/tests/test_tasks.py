"""The clock: periodic jobs are registered once, and each job runs its service."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.tests.factories import PatientFactory
from booking import tasks
from booking.allocation import request_booking
from booking.models import Appointment, BookingRequest
from booking.services import book_slot
from scheduling.models import AllocationPolicy, Schedule
from scheduling.tasks import generate_upcoming_schedules_task
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def test_setup_periodic_tasks_is_idempotent():
    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))  # noqa: SIM115
    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "booking.tasks.expire_unpaid_task",
        "booking.tasks.draw_due_schedules_task",
        "booking.tasks.release_reserves_task",
        "booking.tasks.mark_no_shows_task",
        "payments.tasks.sweep_processing_refunds",
        "notifications.tasks.requeue_pending_sms_task",
        "scheduling.tasks.generate_upcoming_schedules_task",
    } <= names
    assert PeriodicTask.objects.count() == len(names)


def test_every_registered_task_exists():
    from config.celery import app

    app.loader.import_default_modules()
    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))  # noqa: SIM115
    for task in PeriodicTask.objects.values_list("task", flat=True):
        assert task in app.tasks, task


def test_expiry_job_expires_overdue_orders(slot, patient):
    appointment = book_slot(
        user=patient.user, patient=patient, slot=slot, now=timezone.now() - datetime.timedelta(hours=1)
    )
    assert tasks.expire_unpaid_task.delay().get() == 1
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.EXPIRED


def test_draw_job_draws_closed_windows(rules, doctor):
    session = make_session(doctor=doctor, places=1, policy=AllocationPolicy.LOTTERY)
    patient = PatientFactory()
    request_booking(user=patient.user, patient=patient, schedule=session, now=session.release_at)
    Schedule.objects.filter(pk=session.pk).update(request_closes_at=timezone.now() - datetime.timedelta(minutes=1))
    assert tasks.draw_due_schedules_task.delay().get() == 1
    assert BookingRequest.objects.get().status == BookingRequest.Status.WON
    assert tasks.draw_due_schedules_task.delay().get() == 0


def test_generate_job_creates_sessions_from_templates(doctor):
    from scheduling.models import ScheduleTemplate

    ScheduleTemplate.objects.create(
        doctor=doctor,
        department=doctor.departments.first(),
        weekday=timezone.localdate().weekday(),
        period="afternoon",
        start_time=datetime.time(13, 30),
        end_time=datetime.time(15, 30),
        segment_minutes=30,
        places_per_segment=4,
    )
    created = generate_upcoming_schedules_task.delay().get()
    assert created == 2  # today and the same weekday next week, inside 7 + 7 days
    assert generate_upcoming_schedules_task.delay().get() == 0
    assert Schedule.objects.get(date=timezone.localdate()).slots.count() == 4
