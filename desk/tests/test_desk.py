"""The desk through the Django test client: each action changes what it should and leaves its audit record."""

import csv
import datetime
import io

import pytest
from django.utils import timezone

from accounts.models import Patient
from accounts.tests.factories import resident_id_number
from booking.models import Appointment, Penalty
from desk import selectors
from desk.models import SuspensionRequest
from desk.tests.conftest import online_booking, window_booking
from hospital.models import AuditRecord
from payments.models import OfflinePayment
from scheduling.models import Schedule

pytestmark = pytest.mark.django_db
Action = AuditRecord.Action
ELDER_ID = resident_id_number(birth_date=datetime.date(1941, 3, 8), gender="F", order=7)


def audits(action, **filters):
    return AuditRecord.objects.filter(action=action, **filters)


# ---------------------------------------------------------------------------------------------
# 代挂号


def test_the_window_registers_a_walk_in_without_phone_and_books_her(client, world):
    client.force_login(world["front_desk"])
    assert client.get("/desk/window/", {"q": ELDER_ID}).context["found"] == []
    response = client.post(
        "/desk/window/",
        {"name": "王秀英", "id_type": "resident_id", "id_number": ELDER_ID, "gender": "F", "birth_date": "1941-03-08"},
    )
    patient = Patient.objects.get(name="王秀英")
    assert patient.user is None and patient.phone == ""
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    slot = page.context["slots"][0]
    assert slot.desk_free == 3  # the window's share of 10 places
    booked = client.post(response["Location"], {"slot": slot.pk})
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.channel == "window" and appointment.booked_by == world["front_desk"]
    assert appointment.status == Appointment.Status.CONFIRMED and appointment.paid_at is None
    assert booked["Location"] == f"/desk/appointments/{appointment.pk}/receipt/"
    receipt = client.get(booked["Location"]).content.decode()
    for text in (appointment.order_no, "门诊楼2层B区", "¥20.00", "未缴费"):
        assert text in receipt
    assert f'data-testid="queue-number">{appointment.queue_number}<' in receipt
    record = audits(Action.WINDOW_BOOKED).get()
    assert record.actor == world["front_desk"] and record.target_id == str(appointment.pk)


def test_registration_refuses_a_wrong_id_number(client, world):
    client.force_login(world["front_desk"])
    wrong = ELDER_ID[:-1] + ("0" if ELDER_ID[-1] != "0" else "1")
    response = client.post(
        "/desk/window/",
        {"name": "王秀英", "id_type": "resident_id", "id_number": wrong, "gender": "F", "birth_date": "1941-03-08"},
    )
    assert response.status_code == 200
    assert "id_number" in response.context["register"].errors
    assert not Patient.objects.filter(name="王秀英").exists()


def test_the_window_finds_a_person_by_phone_and_a_forged_link_is_a_404(client, world):
    booked = online_booking(world)
    client.force_login(world["front_desk"])
    found = client.get("/desk/window/", {"q": booked.patient.phone}).context["found"]
    assert [patient for patient, _token in found] == [booked.patient]
    assert client.get("/desk/window/not-a-token/").status_code == 404


def test_payment_at_the_desk_is_recorded_with_who_took_it(client, world):
    appointment = window_booking(world)
    client.force_login(world["front_desk"])
    client.post(f"/desk/appointments/{appointment.pk}/pay/", {"method": "cash"})
    appointment.refresh_from_db()
    assert appointment.paid_at is not None
    payment = OfflinePayment.objects.get(order_no=appointment.order_no)
    assert (payment.method, payment.amount_fen, payment.taken_by) == ("cash", 2000, world["front_desk"])
    assert audits(Action.DESK_PAYMENT, target_id=str(appointment.pk)).count() == 1
    again = client.post(f"/desk/appointments/{appointment.pk}/pay/", {"method": "card"}, follow=True)
    assert "已支付" in again.content.decode()
    assert OfflinePayment.objects.count() == 1


def test_the_scheduler_and_the_doctor_cannot_take_money(client, world):
    appointment = window_booking(world)
    for user in (world["scheduler"], world["doctor_user"]):
        client.force_login(user)
        assert client.post(f"/desk/appointments/{appointment.pk}/pay/", {"method": "cash"}).status_code == 403
    assert not OfflinePayment.objects.exists()


# ---------------------------------------------------------------------------------------------
# The day screen


def test_the_day_screen_lists_the_day_in_queue_order_and_finds_by_scan_name_or_masked_phone(client, world):
    late = online_booking(world, slot_index=3, name="李四")
    early = online_booking(world, slot_index=1, name="张三")
    client.force_login(world["front_desk"])
    rows = client.get("/desk/day/").context["rows"]
    assert [a.pk for a in rows] == [early.pk, late.pk]
    assert [a.pk for a in client.get("/desk/day/", {"q": late.order_no}).context["rows"]] == [late.pk]
    assert [a.pk for a in client.get("/desk/day/", {"q": "张三"}).context["rows"]] == [early.pk]
    masked = late.patient.masked_phone
    assert [a.pk for a in client.get("/desk/day/", {"q": masked}).context["rows"]] == [late.pk]


def test_check_in_prints_the_queue_number_and_is_audited(client, world):
    appointment = online_booking(world, slot_index=2)
    client.force_login(world["front_desk"])
    response = client.post(f"/desk/appointments/{appointment.pk}/check-in/")
    assert response["Location"] == f"/desk/appointments/{appointment.pk}/ticket/?print=1"
    ticket = client.get(response["Location"]).content.decode()
    assert "window.print()" in ticket and f">{appointment.queue_number}<" in ticket
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN
    record = audits(Action.CHECKED_IN).get()
    assert record.changes == {"status": ["confirmed", "checked_in"]} and record.actor == world["front_desk"]
    client.post(f"/desk/appointments/{appointment.pk}/complete/")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED
    assert audits(Action.COMPLETED).count() == 1


def test_a_no_show_is_marked_after_the_grace_time_only(client, world):
    early = online_booking(world, slot_index=0)  # 08:00: more than 30 minutes ago
    current = online_booking(world, slot_index=4)  # 10:00: not yet
    client.force_login(world["front_desk"])
    client.post(f"/desk/appointments/{early.pk}/no-show/")
    refused = client.post(f"/desk/appointments/{current.pk}/no-show/", follow=True)
    assert "才能标记爽约" in refused.content.decode()
    early.refresh_from_db()
    current.refresh_from_db()
    assert early.status == Appointment.Status.NO_SHOW and current.status == Appointment.Status.CONFIRMED
    assert Penalty.objects.filter(appointment=early, kind=Penalty.Kind.NO_SHOW).exists()
    assert audits(Action.NO_SHOW).get().target_id == str(early.pk)


def test_adding_places_from_the_day_screen_is_audited_with_its_reason(client, world):
    slot = world["today"].slots.order_by("start_at").last()
    client.force_login(world["front_desk"])
    client.post(f"/desk/slots/{slot.pk}/add-places/", {"places": 2, "channel": "window", "reason": "专家加诊"})
    slot.refresh_from_db()
    assert (slot.capacity, slot.window_capacity) == (12, 5)
    record = audits(Action.PLACES_ADDED).get()
    assert record.reason == "专家加诊" and record.changes["capacity"] == [10, 12]


def test_a_scheduler_adds_places_only_in_their_departments(client, world):
    client.force_login(world["scheduler"])
    theirs = world["other_today"].slots.order_by("start_at").last()
    client.post(f"/desk/slots/{theirs.pk}/add-places/", {"places": 1, "channel": "window", "reason": "x"})
    theirs.refresh_from_db()
    assert theirs.capacity == 10
    assert not audits(Action.PLACES_ADDED).exists()


# ---------------------------------------------------------------------------------------------
# The doctor


def test_the_doctor_books_a_follow_up_in_the_clinic_channel_and_the_patient_gets_the_sms(
    client, world, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("notifications.services.send_sms", lambda **kwargs: sent.append(kwargs))
    seen = online_booking(world, slot_index=1)
    client.force_login(world["doctor_user"])
    page = client.get(f"/desk/appointments/{seen.pk}/follow-up/")
    slot = page.context["slots"][0]
    assert slot.schedule == world["tomorrow"] and slot.desk_free == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/desk/appointments/{seen.pk}/follow-up/", {"slot": slot.pk, "note": "两周后复查血常规"})
    follow_up = Appointment.objects.get(patient=seen.patient, schedule=world["tomorrow"])
    assert follow_up.channel == "clinic" and follow_up.booked_by == world["doctor_user"]
    assert [message["phone"] for message in sent] == [seen.patient.phone]
    record = audits(Action.CLINIC_BOOKED).get()
    assert record.reason == "两周后复查血常规" and record.changes["from_order"] == seen.order_no


def test_a_doctor_may_book_a_colleague_of_the_same_department_only(client, world):
    seen = online_booking(world, slot_index=1)
    client.force_login(world["doctor_user"])
    colleague_slot = world["colleague_tomorrow"].slots.first()
    client.post(f"/desk/appointments/{seen.pk}/follow-up/", {"slot": colleague_slot.pk})
    assert Appointment.objects.filter(schedule=world["colleague_tomorrow"], channel="clinic").count() == 1
    other_slot = world["other_today"].slots.order_by("start_at").last()
    response = client.post(f"/desk/appointments/{seen.pk}/follow-up/", {"slot": other_slot.pk}, follow=True)
    assert "同科室" in response.content.decode()
    assert not Appointment.objects.filter(schedule=world["other_today"]).exists()


def test_a_doctor_cannot_reach_another_doctors_patients(client, world):
    mine = online_booking(world, slot_index=1)
    client.force_login(world["other_doctor_user"])
    for url in (
        f"/desk/appointments/{mine.pk}/follow-up/",
        f"/desk/appointments/{mine.pk}/receipt/",
        f"/desk/appointments/{mine.pk}/ticket/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/desk/appointments/{mine.pk}/check-in/").status_code == 404
    doctor_page = client.get("/desk/doctor/")
    assert mine.patient.name not in doctor_page.content.decode()
    for url in ("/desk/day/", "/desk/window/", "/desk/export/"):
        assert client.get(url).status_code == 403, url


def test_the_doctor_asks_for_a_suspension_and_the_scheduler_confirms_it(client, world):
    booked = online_booking(world, session="tomorrow")
    client.force_login(world["doctor_user"])
    client.post(f"/desk/sessions/{world['tomorrow'].pk}/suspension-request/", {"reason": "外出会诊"})
    request = SuspensionRequest.objects.get()
    assert request.status == SuspensionRequest.Status.PENDING
    assert audits(Action.SUSPENSION_REQUESTED).get().reason == "外出会诊"
    world["tomorrow"].refresh_from_db()
    assert world["tomorrow"].status == Schedule.Status.PUBLISHED  # asking changes nothing yet

    client.force_login(world["scheduler"])
    client.post("/admin/desk/suspensionrequest/", {"action": "confirm", "_selected_action": [request.pk], "index": 0})
    request.refresh_from_db()
    world["tomorrow"].refresh_from_db()
    booked.refresh_from_db()
    assert request.status == SuspensionRequest.Status.CONFIRMED and request.decided_by == world["scheduler"]
    assert world["tomorrow"].status == Schedule.Status.SUSPENDED
    assert booked.status == Appointment.Status.CANCELLED
    assert audits(Action.SCHEDULE_SUSPENDED).get().actor == world["scheduler"]


def test_a_scheduler_of_another_department_cannot_confirm(world):
    from desk import services

    request = services.request_suspension(by=world["other_doctor_user"], schedule=world["other_today"], reason="病假")
    with pytest.raises(services.NotAllowedHere):
        services.confirm_suspension(request=request, by=world["scheduler"])
    request.refresh_from_db()
    assert request.status == SuspensionRequest.Status.PENDING
    services.confirm_suspension(request=request, by=world["admin"])
    world["other_today"].refresh_from_db()
    assert world["other_today"].status == Schedule.Status.SUSPENDED


def test_a_doctor_cannot_ask_to_suspend_a_colleagues_session(client, world):
    client.force_login(world["doctor_user"])
    url = f"/desk/sessions/{world['colleague_tomorrow'].pk}/suspension-request/"
    assert client.post(url, {"reason": "x"}).status_code == 404
    assert not SuspensionRequest.objects.exists()


# ---------------------------------------------------------------------------------------------
# Export


def test_the_export_is_a_csv_of_the_range_with_masked_identities_and_is_audited(client, world):
    booked = online_booking(world)
    client.force_login(world["admin"])
    today = timezone.localdate().isoformat()
    response = client.get("/desk/export/", {"start": today, "end": today})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "订单号" and [row[0] for row in rows[1:]] == [booked.order_no]
    assert rows[1][7] == booked.patient.masked_id_number and rows[1][11] == "20.00"
    record = audits(Action.EXPORTED).get()
    assert record.changes["rows"] == 1 and record.actor == world["admin"]


def test_only_hospital_admins_export(client, world):
    for user in (world["front_desk"], world["scheduler"], world["doctor_user"]):
        client.force_login(user)
        assert client.get("/desk/export/").status_code == 403
    assert not audits(Action.EXPORTED).exists()


# ---------------------------------------------------------------------------------------------
# Another hospital


def test_another_hospitals_staff_get_404_for_every_object(client, world, theirs):
    appointment = online_booking(world, slot_index=2)
    slot = world["today"].slots.order_by("start_at").last()
    for user in (theirs["front_desk"], theirs["admin"]):
        client.force_login(user)
        for url in ("receipt", "ticket"):
            assert client.get(f"/desk/appointments/{appointment.pk}/{url}/").status_code == 404
        for url in ("check-in", "complete", "no-show", "pay"):
            assert client.post(f"/desk/appointments/{appointment.pk}/{url}/", {"method": "cash"}).status_code == 404
        assert client.post(f"/desk/slots/{slot.pk}/add-places/", {"places": 1, "reason": "x"}).status_code == 404
        token = selectors.patient_token(appointment.patient)
        page = client.post(f"/desk/window/{token}/", {"slot": slot.pk})
        assert page.status_code == 404
        assert client.get("/desk/day/", {"q": appointment.order_no}).context["rows"] == []
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert not AuditRecord.objects.filter(hospital=world["hospital"]).exclude(action=Action.PLACES_ADDED).exists()


# ---------------------------------------------------------------------------------------------
# Who reaches which screen


ROLE_PAGES = {
    "admin": {"/desk/window/": 200, "/desk/day/": 200, "/desk/export/": 200, "/desk/doctor/": 403},
    "front_desk": {"/desk/window/": 200, "/desk/day/": 200, "/desk/export/": 403, "/desk/doctor/": 403},
    "scheduler": {"/desk/window/": 403, "/desk/day/": 200, "/desk/export/": 403, "/desk/doctor/": 403},
    "doctor_user": {"/desk/window/": 403, "/desk/day/": 403, "/desk/export/": 403, "/desk/doctor/": 200},
}


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_each_role_reaches_its_own_screens_only(client, world, role):
    client.force_login(world[role])
    for url, status in ROLE_PAGES[role].items():
        assert client.get(url).status_code == status, (role, url)


def test_patients_and_strangers_are_sent_to_the_admin_login(client, world):
    booked = online_booking(world)
    client.force_login(booked.patient.user)
    response = client.get("/desk/day/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# ---------------------------------------------------------------------------------------------
# Bounded queries


@pytest.mark.parametrize("count", [2, 12])
def test_the_day_screen_queries_do_not_grow_with_rows(client, world, count, django_assert_max_num_queries):
    for index in range(count):
        online_booking(world, slot_index=index % 8)
    client.force_login(world["front_desk"])
    with django_assert_max_num_queries(14):
        response = client.get("/desk/day/")
    assert len(response.context["rows"]) == count


@pytest.mark.parametrize("count", [2, 12])
def test_the_doctor_screen_queries_do_not_grow_with_rows(client, world, count, django_assert_max_num_queries):
    for index in range(count):
        online_booking(world, slot_index=index % 8)
    client.force_login(world["doctor_user"])
    with django_assert_max_num_queries(14):
        response = client.get("/desk/doctor/")
    assert len(response.context["rows"]) == count
