"""The audit trail in the admin, role and rules changes audited, the scheduler's departments, the dashboard."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.tests.factories import SuperUserFactory
from booking.management.commands.setup_periodic_tasks import declared_schedule
from booking.services import add_places
from desk.models import DailyStatistics
from desk.services import snapshot_day
from desk.tests.conftest import online_booking, window_booking
from hospital.models import AuditRecord, BookingRules, HospitalStaff

pytestmark = pytest.mark.django_db
Action = AuditRecord.Action


def test_no_one_edits_or_deletes_an_audit_record_in_the_admin_not_even_a_superuser(client, world):
    add_places(slot=world["today"].slots.first(), places=1, channel="window", reason="加诊", by=world["admin"])
    record = AuditRecord.objects.get()
    client.force_login(SuperUserFactory())
    assert client.get("/admin/hospital/auditrecord/").status_code == 200
    assert client.get(f"/admin/hospital/auditrecord/{record.pk}/change/").status_code == 200  # view only
    assert client.get("/admin/hospital/auditrecord/add/").status_code == 403
    assert client.post(f"/admin/hospital/auditrecord/{record.pk}/change/", {"reason": "x"}).status_code == 403
    assert client.post(f"/admin/hospital/auditrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    deleted = client.post(
        "/admin/hospital/auditrecord/", {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"}
    )
    assert deleted.status_code in (200, 302)
    record.refresh_from_db()
    assert record.reason == "加诊"


def test_another_hospitals_admin_sees_none_of_our_audit_records(client, world, theirs):
    add_places(slot=world["today"].slots.first(), places=1, channel="window", reason="甲加诊", by=world["admin"])
    client.force_login(theirs["admin"])
    page = client.get("/admin/hospital/auditrecord/")
    assert page.context["cl"].result_count == 0
    record = AuditRecord.objects.get()
    assert client.get(f"/admin/hospital/auditrecord/{record.pk}/change/").status_code == 302  # "does not exist"


def test_changing_the_rules_in_the_admin_is_audited_with_what_changed(client, world):
    rules = BookingRules.objects.get(hospital=world["hospital"], department=None, doctor=None)
    client.force_login(world["admin"])
    page = client.get(f"/admin/hospital/bookingrules/{rules.pk}/change/")
    data = {}
    for field in page.context["adminform"].form:
        value = field.value()
        if value is None or value is False:
            continue
        data[field.html_name] = "on" if value is True else str(value)
    data["days_ahead"] = "10"
    response = client.post(f"/admin/hospital/bookingrules/{rules.pk}/change/", data)
    assert response.status_code == 302
    record = AuditRecord.objects.get(action=Action.RULES_CHANGED)
    assert record.changes["days_ahead"] == [7, 10] and record.actor == world["admin"]


def test_a_role_change_is_audited(client, world):
    staff = HospitalStaff.objects.get(user=world["front_desk"])
    from hospital.roles import change_staff_role

    change_staff_role(staff=staff, hospital=world["hospital"], role="scheduler", by=world["admin"])
    record = AuditRecord.objects.get(action=Action.STAFF_ROLE_CHANGED)
    assert record.changes["role"] == ["front_desk", "scheduler"]


def test_a_doctor_account_must_name_a_doctor_of_its_hospital(world, theirs):
    from hospital.roles import StaffChangeRefused, assign_staff_role

    with pytest.raises(StaffChangeRefused):
        assign_staff_role(user=world["front_desk"], hospital=world["hospital"], role="doctor")
    with pytest.raises(StaffChangeRefused):
        assign_staff_role(user=world["front_desk"], hospital=world["hospital"], role="doctor", doctor=theirs["doctor"])


def test_a_scheduler_sees_the_sessions_of_their_departments_only(client, world):
    client.force_login(world["scheduler"])
    shown = {s.doctor_id for s in client.get("/admin/scheduling/schedule/").context["cl"].result_list}
    assert shown == {world["doctor"].pk, world["colleague"].pk}
    other = world["other_today"]
    assert client.get(f"/admin/scheduling/schedule/{other.pk}/change/").status_code == 302


def test_a_doctor_account_reaches_no_admin_list(client, world):
    client.force_login(world["doctor_user"])
    for url in ("/admin/booking/appointment/", "/admin/scheduling/schedule/", "/admin/hospital/auditrecord/"):
        assert client.get(url).status_code == 403, url


# ---------------------------------------------------------------------------------------------
# Statistics and the dashboard


def test_the_snapshot_counts_the_day_and_the_dashboard_reads_it(client, world, django_assert_max_num_queries):
    paid = online_booking(world, slot_index=1)
    window_booking(world, slot_index=2)
    written = snapshot_day(hospital=world["hospital"], date=world["today"].date)
    assert written == 4 * 2  # two departments with sessions today × four channels
    online = DailyStatistics.objects.get(department=world["first"], channel="online", date=world["today"].date)
    assert (online.bookings, online.booked, online.capacity, online.revenue_fen) == (1, 1, 40, paid.fee_fen)
    assert snapshot_day(hospital=world["hospital"], date=world["today"].date) == written  # idempotent
    assert DailyStatistics.objects.filter(date=world["today"].date).count() == written
    client.force_login(world["admin"])
    with django_assert_max_num_queries(20):
        page = client.get("/admin/")
    html = page.content.decode()
    assert 'data-testid="bookings-today">2<' in html
    assert "甲内科" in html and "¥20.00" in html and "<svg" in html


def test_the_dashboard_scans_no_appointments(client, world, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    online_booking(world)
    snapshot_day(hospital=world["hospital"], date=world["today"].date)
    client.force_login(world["admin"])
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/")
    assert not [q for q in queries.captured_queries if "booking_appointment" in q["sql"]]


def test_the_clock_snapshots_through_the_beat_schedule(world):
    assert ("desk: snapshot statistics", "desk.tasks.snapshot_statistics_task", 600) in declared_schedule()
    from desk.tasks import snapshot_statistics_task

    assert snapshot_statistics_task() > 0
    call_command("setup_periodic_tasks")
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="desk.tasks.snapshot_statistics_task").exists()


# ---------------------------------------------------------------------------------------------
# Changelists stay bounded


CHANGELISTS = [
    "/admin/hospital/auditrecord/",
    "/admin/desk/suspensionrequest/",
    "/admin/desk/dailystatistics/",
    "/admin/scheduling/slot/",
    "/admin/scheduling/schedule/",
    "/admin/booking/appointment/",
]


@pytest.mark.parametrize("url", CHANGELISTS)
def test_changelists_use_a_bounded_number_of_queries(client, world, url, django_assert_max_num_queries):
    from desk import services

    user = world["admin"]
    user.user_permissions.set(Permission.objects.all())
    client.force_login(user)
    for count in (1, 6):
        for index in range(count):
            online_booking(world, slot_index=index % 8)
            add_places(slot=world["today"].slots.first(), places=1, channel="window", reason="加诊", by=user)
        if count == 1:
            services.request_suspension(by=world["doctor_user"], schedule=world["tomorrow"], reason="会诊")
        snapshot_day(hospital=world["hospital"], date=world["today"].date)
        with django_assert_max_num_queries(20):
            assert client.get(url).status_code == 200


def test_fees_are_typed_and_listed_in_yuan(client, world):
    client.force_login(world["admin"])
    doctor = world["doctor"]
    page = client.get(f"/admin/hospital/doctor/{doctor.pk}/change/")
    form = page.context["adminform"].form
    assert form.initial["registration_fee"] == "20.00" and "registration_fee_fen" not in form.fields
    data = {
        "hospital": doctor.hospital_id,
        "departments": [world["first"].pk],
        "name": doctor.name,
        "title": doctor.title,
        "registration_fee": "35.5",
        "is_active": "on",
    }
    assert client.post(f"/admin/hospital/doctor/{doctor.pk}/change/", data).status_code == 302
    doctor.refresh_from_db()
    assert doctor.registration_fee_fen == 3550
    assert "35.50" in client.get("/admin/hospital/doctor/").content.decode()
    data["registration_fee"] = "35.555"
    assert (
        "registration_fee"
        in client.post(f"/admin/hospital/doctor/{doctor.pk}/change/", data).context["adminform"].form.errors
    )
    schedules = client.get("/admin/scheduling/schedule/").content.decode()
    assert '<td class="field-fee_yuan">20.00</td>' in schedules
