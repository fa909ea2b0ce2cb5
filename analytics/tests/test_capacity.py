"""Capacity planning from check-ins and completions, admission control, and `manage.py queue_report`."""

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from analytics import queueing, selectors
from booking.models import Appointment
from booking.services import book_slot
from hospital.tests.factories import DepartmentFactory
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def at(day, hour, minute):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def test_service_time_is_taken_from_when_the_doctor_was_free():
    day = datetime.date(2026, 3, 2)
    visits = [
        (at(day, 8, 0), at(day, 8, 10)),  # 10 min, nobody waiting before
        (at(day, 8, 2), at(day, 8, 22)),  # waited until 8:10, then 12 min
        (at(day, 8, 40), at(day, 8, 47)),  # doctor idle from 8:22: 7 min
    ]
    assert selectors.service_minutes(visits) == pytest.approx([10, 12, 7])


@pytest.fixture
def clinic_day(rules, doctor):
    """One morning 08:00–10:00: 8 patients check in every 15 minutes, each seen for 10 minutes."""
    session = make_session(doctor=doctor, places=2, segments=4)
    day = session.date
    for index, slot in enumerate([slot for slot in session.slots.order_by("start_at") for _ in range(2)]):
        patient = PatientFactory()
        appointment = book_slot(user=patient.user, patient=patient, slot=slot, now=session.release_at)
        checked_in = at(day, 8, 0) + datetime.timedelta(minutes=15 * index)
        Appointment.objects.filter(pk=appointment.pk).update(
            status=Appointment.Status.COMPLETED,
            checked_in_at=checked_in,
            completed_at=checked_in + datetime.timedelta(minutes=10),
        )
    return session


def test_capacity_plan_from_the_departments_own_data(clinic_day):
    plan = selectors.capacity_plan(
        hospital_id=clinic_day.doctor.hospital_id,
        department_id=clinic_day.department_id,
        date_from=clinic_day.date,
        date_to=clinic_day.date,
        target_wait_minutes=15,
    )
    assert (plan.clinic_days, plan.check_ins, plan.service_samples) == (1, 8, 8)
    assert plan.mean_service_minutes == pytest.approx(10)
    hours = {hour.hour: hour for hour in plan.hours}
    assert set(hours) == {8, 9}
    eight = hours[8]
    assert eight.arrival_rate == pytest.approx(4)
    assert eight.doctors_now == pytest.approx(1)
    # M/M/1 with λ = 4/h, μ = 6/h: Wq = ρ/(μ − λ) = (2/3)/2 h = 20 minutes > 15: two doctors needed.
    assert eight.mean_wait_now * 60 == pytest.approx(20)
    assert eight.doctors_needed == 2
    most = queueing.max_arrival_rate_for_mean_wait(service_rate=6, servers=2, target_wait=0.25)
    assert eight.places_per_segment == int(most / 2 * 0.5)


def test_a_department_with_no_visits_gives_an_empty_plan(clinic_day):
    other = DepartmentFactory(hospital=clinic_day.doctor.hospital)
    plan = selectors.capacity_plan(
        hospital_id=other.hospital_id, department_id=other.pk, date_from=clinic_day.date, date_to=clinic_day.date
    )
    assert (plan.check_ins, plan.hours, plan.mean_service_minutes) == (0, [], None)


def test_queue_report_prints_the_plan_and_the_admission_estimate(clinic_day):
    out = io.StringIO()
    call_command(
        "queue_report",
        "--hospital", str(clinic_day.doctor.hospital_id),
        "--department", str(clinic_day.department_id),
        "--date-from", clinic_day.date.isoformat(),
        "--date-to", clinic_day.date.isoformat(),
        "--arrival-rate", "300",
        "--service-rate", "50",
        "--target-p99-ms", "100",
        stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "平均接诊时长 10.0 分钟" in text
    row8 = next(line.split() for line in text.splitlines() if line.split()[:1] == ["8"])
    assert row8[1:6] == [
        "4.00",
        "1.00",
        "20.0",
        "2",
        str(int(queueing.max_arrival_rate_for_mean_wait(service_rate=6, servers=2, target_wait=0.25) / 2 * 0.5)),
    ]
    needed = queueing.servers_for_sojourn_quantile(arrival_rate=300, service_rate=50, q=0.99, target=0.1)
    assert f"workers for p99 ≤ 100 ms: {needed}" in text
    assert "unstable" in text  # the table shows the worker counts that cannot keep up too


def test_queue_report_refuses_another_hospitals_department(clinic_day):
    other = DepartmentFactory()
    with pytest.raises(CommandError, match="no such department"):
        call_command(
            "queue_report", "--hospital", str(clinic_day.doctor.hospital_id), "--department", str(other.pk),
            "--date-from", "2026-01-01", "--date-to", "2026-01-31", stdout=io.StringIO(),
        )  # fmt: skip


def test_measured_server_reads_the_benchmarks_booking_figures(tmp_path):
    (tmp_path / "browse.json").write_text(json.dumps({"scenario": "browse", "p50_ms": 2}))
    rush = {"scenario": "release_rush book_slot", "throughput_per_s": 340, "p50_ms": 68, "p99_ms": 250, "processes": 2}
    (tmp_path / "rush.json").write_text(json.dumps({"scenarios": [rush]}))
    (tmp_path / "broken.json").write_text("{")
    measured = selectors.measured_server(results_dir=tmp_path)
    # Saturated throughput per process; the latencies include queueing and are only shown.
    assert (measured.source, measured.service_rate, measured.p99_ms, measured.workers) == ("rush.json", 170, 250, 2)
    (tmp_path / "rush.json").write_text(json.dumps([{"name": "book", "p50_ms": 20}]))
    assert selectors.measured_server(results_dir=tmp_path).service_rate == 50
    assert selectors.measured_server(results_dir=tmp_path / "none") is None


def test_admission_control_rows_around_the_answer():
    estimate = selectors.admission_control(arrival_rate=300, service_rate=50, source="test", target_p99_ms=100)
    by_workers = {row["workers"]: row for row in estimate.rows}
    needed = estimate.workers_needed
    assert by_workers[needed]["p99_ms"] <= 100 < by_workers[needed - 1]["p99_ms"]
    assert all(row["stable"] == (row["workers"] >= 7) for row in estimate.rows)  # ρ = 6/c
    assert any(not row["stable"] for row in estimate.rows)
