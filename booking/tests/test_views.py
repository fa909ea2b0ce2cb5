"""The patient pages: book, pay, my appointments, 改约, cancel, lottery entries, the waitlist, penalties."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors, services
from booking.alerts import subscribe_to_session
from booking.allocation import request_booking
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from booking.services import book_slot, join_waitlist
from booking.views import user_message
from hospital.tests.factories import DoctorFactory
from scheduling.models import AllocationPolicy, Schedule
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def outsider_client(outsider):
    other = Client()
    other.force_login(outsider)
    return other


def _book(patient, slot):
    return book_slot(user=patient.user, patient=patient, slot=slot)


def _confirm(appointment, paid=True):
    Appointment.objects.filter(pk=appointment.pk).update(
        status=Appointment.Status.CONFIRMED, paid_at=timezone.now() if paid else None
    )
    appointment.refresh_from_db()
    return appointment


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- booking ---------------------------------------------------------------------------------


def test_the_booking_page_shows_fee_deadline_and_rules(browser_client, slot, patient):
    page = browser_client.get(f"/book/{slot.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "¥20.00" in text
    assert "退号截止" in text
    assert patient.name in text


def test_booking_a_place_leads_to_payment(browser_client, slot, patient):
    page = browser_client.get(f"/book/{slot.pk}/")
    key = page.context["form"]["key"].value()
    response = browser_client.post(f"/book/{slot.pk}/", {"patient": patient.pk, "action": "book", "key": key})
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/appointments/{appointment.order_no}/pay/"
    assert appointment.channel == "online"
    assert appointment.status == Appointment.Status.PENDING_PAYMENT


def test_a_resent_booking_form_returns_the_first_order(browser_client, slot, patient):
    form = {"patient": patient.pk, "action": "book", "key": "k" * 32}
    first = browser_client.post(f"/book/{slot.pk}/", form)
    second = browser_client.post(f"/book/{slot.pk}/", form)
    assert first["Location"] == second["Location"]
    assert Appointment.objects.count() == 1


def test_another_accounts_patient_cannot_be_chosen(browser_client, slot):
    stranger = PatientFactory()
    response = browser_client.post(f"/book/{slot.pk}/", {"patient": stranger.pk, "action": "book", "key": "abc"})
    assert response.status_code == 200
    assert "请选择本账户的就诊人" in response.content.decode()
    assert not Appointment.objects.exists()


def test_an_account_without_patients_is_sent_to_add_one(client, slot, outsider):
    client.force_login(outsider)
    text = client.get(f"/book/{slot.pk}/").content.decode()
    assert f"/patients/new/?next=/book/{slot.pk}/" in text


def test_a_full_slot_is_a_message_and_offers_the_waitlist(browser_client, rules, doctor, patient):
    full = make_session(doctor=doctor, places=1).slots.get()
    _book(PatientFactory(), full)
    page = browser_client.get(f"/book/{full.pk}/")
    assert page.context["state"] == "full"
    assert "加入候补" in page.content.decode()
    # Booking anyway (a stale page): the error is a message on the page, never an error page.
    response = browser_client.post(f"/book/{full.pk}/", {"patient": patient.pk, "action": "book", "key": "abc"})
    assert response.status_code == 200
    assert _messages(response) == [user_message(errors.SlotFull())]
    assert "该时段号源已约满" in response.content.decode()


def test_joining_the_waitlist_shows_the_position(browser_client, rules, doctor, patient):
    full = make_session(doctor=doctor, places=1).slots.get()
    _book(PatientFactory(), full)
    response = browser_client.post(f"/book/{full.pk}/", {"patient": patient.pk, "action": "waitlist", "key": "abc"})
    assert response["Location"] == "/waitlist/"
    page = browser_client.get("/waitlist/")
    assert "当前排在第 1 位" in page.content.decode()
    assert WaitlistEntry.objects.get().patient == patient


def test_a_banned_patient_reads_why_on_the_page(browser_client, slot, patient, doctor):
    now = timezone.now()
    BookingBan.objects.create(
        person_key=patient.person_key,
        patient=patient,
        hospital=doctor.hospital,
        starts_at=now - datetime.timedelta(days=1),
        ends_at=now + datetime.timedelta(days=30),
        reason="365天内爽约或临近就诊退号3次",
    )
    response = browser_client.post(f"/book/{slot.pk}/", {"patient": patient.pk, "action": "book", "key": "abc"})
    assert response.status_code == 200
    assert "不能在本院预约" in _messages(response)[0]
    assert not Appointment.objects.exists()


@pytest.fixture
def long_draw_window(rules):
    """Entries stay open for six days after release, so a session a few days ahead still takes them."""
    rules.lottery_window_hours = 6 * 24
    rules.save()
    return rules


def test_a_lottery_session_takes_an_entry(browser_client, long_draw_window, doctor, patient):
    lottery = make_session(doctor=doctor, policy=AllocationPolicy.LOTTERY).slots.get()
    page = browser_client.get(f"/book/{lottery.pk}/")
    assert page.context["state"] == "request"
    response = browser_client.post(f"/book/{lottery.pk}/", {"patient": patient.pk, "action": "request", "key": "a"})
    assert response["Location"] == "/requests/"
    assert BookingRequest.objects.get().patient == patient
    assert "等待抽签" in browser_client.get("/requests/").content.decode()


def test_a_draft_session_is_not_found(browser_client, rules, doctor):
    draft = make_session(doctor=doctor, status=Schedule.Status.DRAFT).slots.get()
    assert browser_client.get(f"/book/{draft.pk}/").status_code == 404


def test_pages_ask_for_a_login(client, slot):
    response = client.get(f"/book/{slot.pk}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_csrf_stays_on(user, slot, patient):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    response = strict.post(f"/book/{slot.pk}/", {"patient": patient.pk, "action": "book", "key": "abc"})
    assert response.status_code == 403
    assert not Appointment.objects.exists()


# --- paying ----------------------------------------------------------------------------------


def test_paying_in_the_sandbox_confirms_and_returns_to_the_order(browser_client, sandbox, slot, patient):
    appointment = _book(patient, slot)
    page = browser_client.get(f"/appointments/{appointment.order_no}/pay/")
    assert "模拟支付" in page.content.decode()
    assert "前完成支付" in page.content.decode()
    response = browser_client.post(f"/appointments/{appointment.order_no}/pay/", {"provider": "sandbox"})
    assert response.status_code == 302
    cashier = response["Location"]
    assert cashier.startswith("/payments/sandbox/")
    returned = browser_client.post(cashier, follow=True)
    assert f"/appointments/{appointment.order_no}/" in returned.content.decode()  # the 返回订单 link
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    success = browser_client.get(f"/appointments/{appointment.order_no}/").content.decode()
    assert "预约成功" in success
    assert "加入日历" in success
    assert str(appointment.queue_number) in success


def test_wechat_native_shows_a_qr_code_drawn_here(browser_client, wechat, slot, patient):
    appointment = _book(patient, slot)
    response = browser_client.post(f"/appointments/{appointment.order_no}/pay/", {"provider": "wechat"})
    assert response.status_code == 200
    assert "<svg" in response.content.decode()


def test_an_unavailable_provider_is_refused_by_the_form(browser_client, slot, patient):
    appointment = _book(patient, slot)
    response = browser_client.post(f"/appointments/{appointment.order_no}/pay/", {"provider": "alipay"})
    assert response.status_code == 200
    assert "暂无可用的在线支付方式" in response.content.decode()


def test_an_expired_order_says_so(browser_client, slot, patient):
    appointment = _book(patient, slot)
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.EXPIRED)
    response = browser_client.get(f"/appointments/{appointment.order_no}/pay/", follow=True)
    assert "订单已超过支付时限" in _messages(response)[0]


# --- my appointments -------------------------------------------------------------------------


def test_another_users_order_number_is_not_found(outsider_client, slot, patient):
    order_no = _book(patient, slot).order_no
    for path in ("", "pay/", "reschedule/", "cancel/", "calendar.ics"):
        assert outsider_client.get(f"/appointments/{order_no}/{path}").status_code == 404, path
    assert outsider_client.post(f"/appointments/{order_no}/cancel/", {"reason": "x"}).status_code == 404
    assert Appointment.objects.get().status == Appointment.Status.PENDING_PAYMENT


def test_the_calendar_file_downloads(browser_client, slot, patient):
    appointment = _confirm(_book(patient, slot))
    response = browser_client.get(f"/appointments/{appointment.order_no}/calendar.ics")
    assert response["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in response.content


def test_the_list_splits_upcoming_and_past(browser_client, slot, patient):
    upcoming = _book(patient, slot)
    page = browser_client.get("/appointments/")
    assert list(page.context["upcoming"]) == [upcoming]
    assert list(page.context["past"]) == []


def _populate(patient, doctor, days):
    """For each day: an appointment, a lottery entry, a waitlist place, a penalty and a 到号提醒,
    each with another doctor of the hospital."""
    for day in days:
        date = timezone.localdate() + datetime.timedelta(days=day)
        colleagues = DoctorFactory.create_batch(3, hospital=doctor.hospital)
        appointment = _book(patient, make_session(doctor=colleagues[0], date=date).slots.get())
        lottery = make_session(doctor=colleagues[1], date=date, policy=AllocationPolicy.LOTTERY)
        request_booking(user=patient.user, patient=patient, schedule=lottery)
        full = make_session(doctor=colleagues[2], date=date, places=1)
        _book(PatientFactory(), full.slots.get())
        join_waitlist(user=patient.user, patient=patient, schedule=full)
        Penalty.objects.create(
            person_key=patient.person_key,
            patient=patient,
            hospital=doctor.hospital,
            appointment=appointment,
            kind=Penalty.Kind.NO_SHOW,
            occurred_at=timezone.now(),
        )
        subscribe_to_session(user=patient.user, schedule=full)


def _count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/appointments/", "/waitlist/", "/requests/", "/me/penalties/", "/alerts/"])
def test_list_pages_use_a_fixed_number_of_queries(browser_client, rules, doctor, patient, path):
    rules.max_active = rules.max_per_month = rules.max_per_hospital_per_day = rules.max_per_department_per_day = 50
    rules.no_show_threshold = 50
    rules.lottery_window_hours = 6 * 24
    rules.save()
    _populate(patient, doctor, days=[3])
    few = _count_queries(browser_client, path)
    _populate(patient, doctor, days=[4, 5])
    assert _count_queries(browser_client, path) == few
    assert few <= 8


def test_the_booking_page_uses_a_fixed_number_of_queries(
    browser_client, rules, doctor, patient, django_assert_max_num_queries
):
    wide = make_session(doctor=doctor, segments=8, places=3)
    PatientFactory.create_batch(4, user=patient.user)
    with django_assert_max_num_queries(10):
        assert browser_client.get(f"/book/{wide.slots.first().pk}/").status_code == 200


def test_rescheduling_moves_to_another_segment(browser_client, rules, doctor, patient):
    session = make_session(doctor=doctor, segments=2, places=2)
    first, second = session.slots.order_by("start_at")
    appointment = _confirm(_book(patient, first))
    page = browser_client.get(f"/appointments/{appointment.order_no}/reschedule/")
    offered = [slot.pk for schedule in page.context["schedules"] for slot in schedule.open_slots]
    assert offered == [second.pk]
    response = browser_client.post(
        f"/appointments/{appointment.order_no}/reschedule/", {"slot": second.pk}, follow=True
    )
    moved = Appointment.objects.get(status=Appointment.Status.CONFIRMED)
    assert moved.slot == second
    assert "改约成功" in _messages(response)[0]


def test_rescheduling_to_a_full_segment_keeps_the_old_one(browser_client, rules, doctor, patient):
    session = make_session(doctor=doctor, segments=2, places=1)
    first, second = session.slots.order_by("start_at")
    appointment = _confirm(_book(patient, first))
    _book(PatientFactory(), second)
    response = browser_client.post(f"/appointments/{appointment.order_no}/reschedule/", {"slot": second.pk})
    assert response.status_code == 200
    assert "约满" in _messages(response)[0]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_cancelling_with_a_reason_shows_the_refund(browser_client, slot, patient, django_capture_on_commit_callbacks):
    appointment = _confirm(_book(patient, slot))
    with django_capture_on_commit_callbacks():
        response = browser_client.post(
            f"/appointments/{appointment.order_no}/cancel/", {"reason": "时间冲突"}, follow=True
        )
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancel_note == "时间冲突"
    text = response.content.decode()
    assert "退款" in text


def test_cancelling_needs_a_reason(browser_client, slot, patient):
    appointment = _book(patient, slot)
    response = browser_client.post(f"/appointments/{appointment.order_no}/cancel/", {"reason": ""})
    assert "请填写取消原因" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.PENDING_PAYMENT


def test_too_late_to_cancel_is_a_message(browser_client, rules, doctor, patient):
    soon = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=1)).slots.get()
    appointment = _confirm(_book(patient, soon))
    Appointment.objects.filter(pk=appointment.pk).update(rules_snapshot={"cancel_deadline_minutes": 3 * 24 * 60})
    response = browser_client.post(f"/appointments/{appointment.order_no}/cancel/", {"reason": "有事"})
    assert response.status_code == 200
    assert "已超过退号截止时间" in _messages(response)[0]


# --- lottery entries, waitlist, penalties ----------------------------------------------------


def test_others_entries_cannot_be_withdrawn(outsider_client, long_draw_window, doctor, patient):
    lottery = make_session(doctor=doctor, policy=AllocationPolicy.LOTTERY)
    entry = request_booking(user=patient.user, patient=patient, schedule=lottery)
    assert outsider_client.post(f"/requests/{entry.pk}/withdraw/").status_code == 404
    entry.refresh_from_db()
    assert entry.status == BookingRequest.Status.PENDING


def test_penalties_show_the_ban_end_and_reason(browser_client, slot, patient, doctor):
    appointment = _confirm(_book(patient, slot))
    now = timezone.now()
    Penalty.objects.create(
        person_key=patient.person_key,
        patient=patient,
        hospital=doctor.hospital,
        appointment=appointment,
        kind=Penalty.Kind.NO_SHOW,
        occurred_at=now,
    )
    BookingBan.objects.create(
        person_key=patient.person_key,
        patient=patient,
        hospital=doctor.hospital,
        starts_at=now,
        ends_at=now + datetime.timedelta(days=90),
        reason="365天内爽约或临近就诊退号3次",
    )
    text = browser_client.get("/me/penalties/").content.decode()
    assert "爽约" in text
    assert "365天内爽约或临近就诊退号3次" in text
    assert timezone.localtime(now + datetime.timedelta(days=90)).strftime("%Y年%-m月%-d日") in text


def test_over_a_limit_is_a_message(browser_client, rules, doctor, patient):
    rules.max_active = 1
    rules.save()
    _book(patient, make_session(doctor=doctor).slots.get())
    other_doctor = DoctorFactory(hospital=doctor.hospital)
    slot = make_session(doctor=other_doctor).slots.get()
    response = browser_client.post(f"/book/{slot.pk}/", {"patient": patient.pk, "action": "book", "key": "abc"})
    assert response.status_code == 200
    assert "已达到预约上限" in _messages(response)[0]


def _error_classes(base):
    for cls in base.__subclasses__():
        yield cls
        yield from _error_classes(cls)


def test_every_error_a_patient_can_meet_reads_as_plain_chinese():
    from booking.views import NEXT_STEP
    from config.errors import DomainError

    codes = {cls.code for cls in _error_classes(DomainError)}
    assert set(NEXT_STEP) <= codes  # the one map names only real codes
    for cls in _error_classes(errors.BookingError):
        params = {"release_at": "12月3日 15:00", "days": 7, "limit_label": "每月", "maximum": 10, "until": "2027-01-01"}
        params |= {"minutes": 120, "status": "已取消", "opens": "", "closes": "", "reason": "原因", "count": 1}
        text = user_message(cls(**params))
        assert text and "%(" not in text and "%s" not in text, cls.code


def test_the_reschedule_page_uses_a_fixed_number_of_queries(browser_client, rules, doctor, patient):
    appointment = _confirm(_book(patient, make_session(doctor=doctor, segments=2).slots.first()))
    path = f"/appointments/{appointment.order_no}/reschedule/"
    few = _count_queries(browser_client, path)
    for day in (1, 2, 4):
        make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=day), segments=6)
    assert len(browser_client.get(path).context["schedules"]) == 4
    assert _count_queries(browser_client, path) == few


def test_others_waitlist_places_cannot_be_left(outsider_client, rules, doctor, patient):
    full = make_session(doctor=doctor, places=1)
    _book(PatientFactory(), full.slots.get())
    entry = join_waitlist(user=patient.user, patient=patient, schedule=full)
    assert outsider_client.post(f"/waitlist/{entry.pk}/leave/").status_code == 404
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.WAITING


def test_an_unknown_slot_is_not_found(browser_client, db):
    assert browser_client.get("/book/999999/").status_code == 404


def test_a_dearer_move_is_held_and_the_pay_page_asks_only_the_difference(
    browser_client, client, settings, rules, doctor, patient
):
    settings.PAYMENTS_SANDBOX = True
    session = make_session(doctor=doctor, places=2)
    dearer = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=1), places=2)
    Schedule.objects.filter(pk=dearer.pk).update(fee_fen=session.fee_fen + 1500)
    appointment = _book(patient, session.slots.get())
    started = services.pay_appointment(user=patient.user, appointment=appointment, provider="sandbox", method="page")
    client.post(started.redirect_url)
    response = browser_client.post(
        f"/appointments/{appointment.order_no}/reschedule/", {"slot": dearer.slots.get().pk}, follow=True
    )
    held = Appointment.objects.get(status=Appointment.Status.AWAITING_DIFFERENCE)
    assert response.redirect_chain[-1][0] == f"/appointments/{held.order_no}/pay/"
    assert "差价¥15.00" in _messages(response)[0]
    assert "¥15.00" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED  # the old place stands till the difference is paid
