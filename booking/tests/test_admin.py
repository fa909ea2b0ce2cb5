"""Staff actions in the admin: 停诊, 抽签, 加号, 签到, 完成就诊, 医院取消, 撤销失信记录.

Every action goes through the real admin URL (the changelist POST, then the intermediate
page's `apply` POST) and is checked by what the service changed, or by the service's message
and nothing changed when it refuses.
"""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors
from booking.allocation import request_booking
from booking.models import Appointment, BookingBan, BookingRequest, Penalty
from booking.services import book_slot, check_in, record_payment, record_penalty
from hospital.models import HospitalStaff
from hospital.tests.factories import DoctorFactory, HospitalStaffFactory
from scheduling.models import AllocationPolicy, Period, Schedule, SlotAdjustment
from scheduling.services import create_schedule
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

SCHEDULES = "/admin/scheduling/schedule/"
SLOTS = "/admin/scheduling/slot/"
APPOINTMENTS = "/admin/booking/appointment/"
PENALTIES = "/admin/booking/penalty/"
BANS = "/admin/booking/bookingban/"


def post_action(client, url, action, objects, **fields):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **fields}
    return client.post(url, data, follow=True)


def apply_action(client, url, action, objects, **fields):
    return post_action(client, url, action, objects, apply="1", **fields)


def offered_actions(changelist_page) -> set[str]:
    action_form = changelist_page.context["action_form"]
    return {name for name, _label in action_form.fields["action"].choices if name} if action_form else set()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def confirmed_appointment(slot, *, now=None) -> Appointment:
    patient = PatientFactory()
    appointment = book_slot(user=patient.user, patient=patient, slot=slot, now=now)
    record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=timezone.now())
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    return appointment


@pytest.fixture
def hospital_admin(doctor):
    return HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN).user


@pytest.fixture
def other_hospital_admin(db):
    return HospitalStaffFactory(role=HospitalStaff.Role.HOSPITAL_ADMIN).user


@pytest.fixture
def appointment(slot):
    return confirmed_appointment(slot)


@pytest.fixture
def scope_broken(monkeypatch):
    """As if the admin's scoping had a hole: every staff member sees every hospital's rows."""
    monkeypatch.setattr("hospital.admin_scope.staff_hospital_id", lambda user: None)


# ---------------------------------------------------------------------------------------------
# 停诊


def test_suspend_first_asks_for_a_reason_and_shows_what_it_will_cancel(client, hospital_admin, session, appointment):
    client.force_login(hospital_admin)
    response = post_action(client, SCHEDULES, "suspend", [session])
    assert response.status_code == 200
    assert response.templates[0].name == "admin/booking/action_form.html"
    assert [row[0] for row in response.context["rows"]] == [session]
    assert response.context["rows"][0][2] == 1  # one appointment will be cancelled
    assert "停诊原因" in response.content.decode()
    session.refresh_from_db()
    assert session.status == Schedule.Status.PUBLISHED


def test_suspend_cancels_every_appointment_and_closes_the_slots(client, hospital_admin, session, appointment):
    client.force_login(hospital_admin)
    response = apply_action(client, SCHEDULES, "suspend", [session], reason="医生临时出差")
    assert response.status_code == 200
    assert "停诊成功：1个出诊，共取消预约1个。" in messages_of(response)
    session.refresh_from_db()
    appointment.refresh_from_db()
    assert session.status == Schedule.Status.SUSPENDED
    assert session.suspended_reason == "医生临时出差"
    assert session.suspended_by == hospital_admin
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancel_reason == Appointment.CancelReason.DOCTOR_SUSPENDED
    assert not session.slots.filter(is_open=True).exists()
    assert session.slots.get().booked == 0


def test_suspend_without_a_reason_shows_the_form_error_and_changes_nothing(
    client, hospital_admin, session, appointment
):
    client.force_login(hospital_admin)
    response = apply_action(client, SCHEDULES, "suspend", [session], reason="   ")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    session.refresh_from_db()
    appointment.refresh_from_db()
    assert session.status == Schedule.Status.PUBLISHED
    assert appointment.status == Appointment.Status.CONFIRMED


def test_front_desk_is_not_offered_suspend(client, front_desk, session):
    client.force_login(front_desk)
    page = client.get(SCHEDULES)
    assert page.status_code == 200
    assert "suspend" not in offered_actions(page)
    response = apply_action(client, SCHEDULES, "suspend", [session], reason="x")
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == Schedule.Status.PUBLISHED


def test_the_services_role_check_has_the_last_word(client, front_desk, session, appointment):
    """A front-desk user who somehow holds the change permission is still refused by suspend_schedule."""
    front_desk.user_permissions.add(Permission.objects.get(codename="change_schedule"))
    client.force_login(front_desk)
    response = apply_action(client, SCHEDULES, "suspend", [session], reason="x")
    assert f"{session}：{errors.NotStaff().detail}" in messages_of(response)
    session.refresh_from_db()
    appointment.refresh_from_db()
    assert session.status == Schedule.Status.PUBLISHED
    assert appointment.status == Appointment.Status.CONFIRMED


def test_staff_of_another_hospital_cannot_suspend(client, other_hospital_admin, session, appointment):
    client.force_login(other_hospital_admin)
    response = apply_action(client, SCHEDULES, "suspend", [session], reason="x")
    assert response.status_code == 200
    assert "所选记录不存在或不属于本院，未做任何更改。" in messages_of(response)
    session.refresh_from_db()
    assert session.status == Schedule.Status.PUBLISHED


def test_even_with_a_hole_in_scoping_another_hospitals_staff_get_the_services_refusal(
    client, other_hospital_admin, session, appointment, scope_broken
):
    client.force_login(other_hospital_admin)
    response = apply_action(client, SCHEDULES, "suspend", [session], reason="x")
    assert f"{session}：{errors.NotStaff().detail}" in messages_of(response)
    session.refresh_from_db()
    appointment.refresh_from_db()
    assert session.status == Schedule.Status.PUBLISHED
    assert appointment.status == Appointment.Status.CONFIRMED


# ---------------------------------------------------------------------------------------------
# 抽签 and 核验


@pytest.fixture
def lottery(doctor, rules):
    """A lottery session whose request window has closed, with two requests in it."""
    schedule = make_session(doctor=doctor, places=1, policy=AllocationPolicy.LOTTERY)
    during_window = schedule.release_at + datetime.timedelta(minutes=5)
    for _ in range(2):
        patient = PatientFactory()
        request_booking(user=patient.user, patient=patient, schedule=schedule, now=during_window)
    assert schedule.request_closes_at <= timezone.now()
    return schedule


def test_draw_now_draws_a_closed_lottery_and_verify_confirms_it(client, scheduler, lottery):
    client.force_login(scheduler)
    response = post_action(client, SCHEDULES, "draw_now", [lottery])
    assert f"抽签成功：{lottery} 中签1人，未中签1人，不符合预约条件0人。" in messages_of(response)
    statuses = sorted(BookingRequest.objects.filter(schedule=lottery).values_list("status", flat=True))
    assert statuses == [BookingRequest.Status.LOST, BookingRequest.Status.WON]
    assert Appointment.objects.filter(schedule=lottery).count() == 1

    response = post_action(client, SCHEDULES, "verify", [lottery])
    assert any(text.startswith(f"核验通过：{lottery}") for text in messages_of(response))


def test_drawing_twice_is_refused_with_the_services_message(client, scheduler, lottery):
    client.force_login(scheduler)
    post_action(client, SCHEDULES, "draw_now", [lottery])
    response = post_action(client, SCHEDULES, "draw_now", [lottery])
    assert f"{lottery}：{errors.DrawNotDue().detail}" in messages_of(response)
    assert Appointment.objects.filter(schedule=lottery).count() == 1


def test_verify_reports_a_tampered_draw(client, scheduler, lottery):
    client.force_login(scheduler)
    post_action(client, SCHEDULES, "draw_now", [lottery])
    winner = BookingRequest.objects.get(schedule=lottery, status=BookingRequest.Status.WON)
    loser = BookingRequest.objects.get(schedule=lottery, status=BookingRequest.Status.LOST)
    BookingRequest.objects.filter(pk=winner.pk).update(status=BookingRequest.Status.LOST)
    BookingRequest.objects.filter(pk=loser.pk).update(status=BookingRequest.Status.WON)
    response = post_action(client, SCHEDULES, "verify", [lottery])
    assert any(text.startswith(f"核验不一致：{lottery}") for text in messages_of(response))


def test_verify_before_the_draw_shows_the_services_message(client, scheduler, session):
    client.force_login(scheduler)
    response = post_action(client, SCHEDULES, "verify", [session])
    assert f"{session}：{errors.DrawNotDue().detail}" in messages_of(response)


def test_staff_of_another_hospital_cannot_draw_even_with_a_hole_in_scoping(
    client, other_hospital_admin, lottery, scope_broken
):
    client.force_login(other_hospital_admin)
    response = post_action(client, SCHEDULES, "draw_now", [lottery])
    assert f"{lottery}：{errors.NotStaff().detail}" in messages_of(response)
    lottery.refresh_from_db()
    assert lottery.drawn_at is None


# ---------------------------------------------------------------------------------------------
# 加号


def test_front_desk_adds_places_to_a_channel_with_a_recorded_reason(client, front_desk, slot):
    client.force_login(front_desk)
    form_page = post_action(client, SLOTS, "add_places", [slot])
    assert form_page.status_code == 200
    assert form_page.context["rows"][0][0] == slot
    response = apply_action(client, SLOTS, "add_places", [slot], places="3", channel="window", reason="复诊患者")
    assert "加号成功：1个时段，每个时段“挂号窗口”渠道增加3个号源。" in messages_of(response)
    slot.refresh_from_db()
    assert (slot.capacity, slot.window_capacity) == (8, 3)
    adjustment = SlotAdjustment.objects.get(slot=slot)
    assert (adjustment.channel, adjustment.places, adjustment.reason) == ("window", 3, "复诊患者")
    assert adjustment.created_by == front_desk


@pytest.mark.parametrize(
    ("fields", "field_with_error"),
    [
        ({"places": "三", "channel": "window", "reason": "x"}, "places"),
        ({"places": "51", "channel": "window", "reason": "x"}, "places"),
        ({"places": "0", "channel": "window", "reason": "x"}, "places"),
        ({"places": "2", "channel": "nowhere", "reason": "x"}, "channel"),
        ({"places": "2", "channel": "window", "reason": ""}, "reason"),
    ],
)
def test_bad_add_places_input_shows_the_form_again(client, scheduler, slot, fields, field_with_error):
    client.force_login(scheduler)
    response = apply_action(client, SLOTS, "add_places", [slot], **fields)
    assert response.status_code == 200
    assert field_with_error in response.context["form"].errors
    slot.refresh_from_db()
    assert slot.capacity == 5
    assert not SlotAdjustment.objects.exists()


def test_adding_places_to_a_suspended_session_shows_the_services_message(client, hospital_admin, session, slot):
    client.force_login(hospital_admin)
    apply_action(client, SCHEDULES, "suspend", [session], reason="停诊")
    response = apply_action(client, SLOTS, "add_places", [slot], places="2", channel="online", reason="x")
    assert f"{slot}：{errors.ScheduleUnavailable().detail}" in messages_of(response)
    slot.refresh_from_db()
    assert slot.capacity == 5


def test_staff_of_another_hospital_cannot_add_places_even_with_a_hole_in_scoping(
    client, other_hospital_admin, slot, scope_broken
):
    client.force_login(other_hospital_admin)
    response = apply_action(client, SLOTS, "add_places", [slot], places="2", channel="online", reason="x")
    assert f"{slot}：{errors.NotStaff().detail}" in messages_of(response)
    slot.refresh_from_db()
    assert slot.capacity == 5


# ---------------------------------------------------------------------------------------------
# 签到, 完成就诊, 医院取消


def test_check_in_on_the_visit_day_moves_confirmed_to_checked_in(client, front_desk, doctor, rules):
    now = timezone.localtime()
    start = now.replace(second=0, microsecond=0)
    end = start + datetime.timedelta(minutes=30)
    if end.date() != start.date():
        pytest.skip("less than 30 minutes of the day remain for a session today")
    schedule = create_schedule(
        doctor=doctor,
        department=doctor.departments.first(),
        date=start.date(),
        period=Period.EVENING,
        start_time=start.time(),
        end_time=end.time(),
        segment_minutes=30,
        places_per_segment=2,
    )
    appointment = confirmed_appointment(schedule.slots.get(), now=schedule.start_at - datetime.timedelta(hours=1))
    client.force_login(front_desk)
    response = post_action(client, APPOINTMENTS, "check_in", [appointment])
    assert "签到成功：1个预约。" in messages_of(response)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN
    assert appointment.checked_in_at is not None


def test_check_in_before_the_visit_day_shows_the_services_message(client, front_desk, appointment):
    client.force_login(front_desk)
    response = post_action(client, APPOINTMENTS, "check_in", [appointment])
    assert f"{appointment}：{errors.CheckInNotAllowed().detail}" in messages_of(response)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_complete_visit_after_check_in(client, front_desk, appointment):
    check_in(appointment=appointment, by=front_desk, now=appointment.schedule.start_at)
    client.force_login(front_desk)
    response = post_action(client, APPOINTMENTS, "complete_visit", [appointment])
    assert "完成就诊成功：1个预约。" in messages_of(response)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED


def test_completing_a_visit_that_was_not_checked_in_is_refused(client, front_desk, appointment):
    client.force_login(front_desk)
    response = post_action(client, APPOINTMENTS, "complete_visit", [appointment])
    expected = errors.InvalidStatus(status=Appointment.Status.CONFIRMED.label).detail
    assert f"{appointment}：{expected}" in messages_of(response)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_hospital_cancellation_gives_the_place_back_and_never_counts_against_the_patient(
    client, front_desk, appointment, slot
):
    client.force_login(front_desk)
    form_page = post_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment])
    assert form_page.status_code == 200
    assert form_page.context["rows"][0][0] == appointment.order_no
    response = apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="设备检修")
    assert "取消成功：1个预约。" in messages_of(response)
    appointment.refresh_from_db()
    slot.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancel_reason == Appointment.CancelReason.STAFF
    assert appointment.cancel_note == "设备检修"
    assert appointment.cancelled_by == front_desk
    assert slot.booked == 0
    assert not Penalty.objects.exists()


def test_hospital_cancellation_needs_a_reason(client, front_desk, appointment):
    client.force_login(front_desk)
    response = apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_cancelling_twice_shows_the_services_message(client, front_desk, appointment):
    client.force_login(front_desk)
    apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="设备检修")
    response = apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="设备检修")
    assert f"{appointment}：{errors.CancelNotAllowed().detail}" in messages_of(response)


def test_scheduler_is_not_offered_appointment_actions(client, scheduler, appointment):
    client.force_login(scheduler)
    page = client.get(APPOINTMENTS)
    assert page.status_code == 200
    assert appointment.order_no in page.content.decode()
    assert offered_actions(page) == set()
    post_action(client, APPOINTMENTS, "check_in", [appointment])
    apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="x")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_appointment_list_masks_the_patient_and_says_who_booked(client, front_desk, appointment):
    client.force_login(front_desk)
    page = client.get(APPOINTMENTS).content.decode()
    patient = appointment.patient
    assert patient.masked_id_number in page and patient.masked_phone in page
    assert patient.id_number not in page and patient.phone not in page
    assert str(appointment.booked_by) in page
    assert "线上（患者网页/App）" in page
    detail = client.get(f"{APPOINTMENTS}{appointment.pk}/change/").content.decode()
    assert patient.masked_id_number in detail
    assert patient.id_number not in detail and patient.phone not in detail


def test_appointments_cannot_be_added_or_deleted_or_edited(client, hospital_admin, appointment):
    client.force_login(hospital_admin)
    assert client.get(f"{APPOINTMENTS}add/").status_code == 403
    assert client.get(f"{APPOINTMENTS}{appointment.pk}/delete/").status_code == 403
    client.post(f"{APPOINTMENTS}{appointment.pk}/change/", {"status": "completed"})
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_other_hospitals_staff_neither_see_nor_change_appointments(client, other_hospital_admin, appointment):
    client.force_login(other_hospital_admin)
    assert appointment.order_no not in client.get(APPOINTMENTS).content.decode()
    assert client.get(f"{APPOINTMENTS}{appointment.pk}/change/").status_code == 302  # "does not exist"
    response = apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="x")
    assert "所选记录不存在或不属于本院，未做任何更改。" in messages_of(response)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_with_a_hole_in_scoping_cancel_and_complete_are_still_refused(
    client, other_hospital_admin, appointment, scope_broken
):
    client.force_login(other_hospital_admin)
    response = apply_action(client, APPOINTMENTS, "cancel_by_hospital", [appointment], reason="x")
    assert f"{appointment}：{errors.NotOwner().detail}" in messages_of(response)
    response = post_action(client, APPOINTMENTS, "complete_visit", [appointment])
    assert f"{appointment}：{errors.NotStaff().detail}" in messages_of(response)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


# ---------------------------------------------------------------------------------------------
# 失信记录 and 预约限制


@pytest.fixture
def banned(rules, appointment):
    """One no-show is enough for a ban under these rules."""
    rules.no_show_threshold = 1
    rules.save()
    penalty = record_penalty(appointment=appointment, kind=Penalty.Kind.NO_SHOW, now=timezone.now())
    assert BookingBan.objects.filter(person_key=penalty.person_key, lifted_at__isnull=True).exists()
    return penalty


def test_waiving_a_record_lifts_the_ban_it_caused(client, hospital_admin, banned):
    client.force_login(hospital_admin)
    form_page = post_action(client, PENALTIES, "waive", [banned])
    assert form_page.status_code == 200
    response = apply_action(client, PENALTIES, "waive", [banned], reason="患者住院，有证明")
    assert "撤销成功：1条失信记录。" in messages_of(response)
    banned.refresh_from_db()
    assert banned.waived_by == hospital_admin
    assert banned.waive_reason == "患者住院，有证明"
    ban = BookingBan.objects.get(person_key=banned.person_key)
    assert ban.lifted_at is not None


def test_waiving_needs_a_reason(client, hospital_admin, banned):
    client.force_login(hospital_admin)
    response = apply_action(client, PENALTIES, "waive", [banned], reason="")
    assert "reason" in response.context["form"].errors
    banned.refresh_from_db()
    assert banned.waived_at is None


def test_with_a_hole_in_scoping_waiving_is_still_refused(client, other_hospital_admin, banned, scope_broken):
    client.force_login(other_hospital_admin)
    response = apply_action(client, PENALTIES, "waive", [banned], reason="x")
    assert f"{banned}：{errors.NotStaff().detail}" in messages_of(response)
    banned.refresh_from_db()
    assert banned.waived_at is None


def test_ban_list_shows_person_until_when_and_why(client, front_desk, banned):
    client.force_login(front_desk)
    page = client.get(BANS).content.decode()
    ban = BookingBan.objects.get()
    assert ban.patient.name in page
    assert ban.patient.masked_id_number in page and ban.patient.id_number not in page
    assert ban.reason in page
    assert "已解除" in page


def test_other_hospitals_staff_do_not_see_penalties(client, banned):
    outsider = HospitalStaffFactory(hospital=DoctorFactory().hospital).user
    client.force_login(outsider)
    assert banned.patient.name not in client.get(PENALTIES).content.decode()
    assert client.get(f"{PENALTIES}{banned.pk}/change/").status_code == 302
