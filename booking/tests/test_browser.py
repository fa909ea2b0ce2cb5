"""The booking pages in Chromium at phone width: book → pay (sandbox) → see → .ics → 改约 → cancel → refund;
a full slot → 候补 → an offer after a cancellation → pay it; a lottery entry → draw → result.

Each main page is saved under var/screenshots/ (booking-*.png) and checked with axe-core.
"""

import datetime

import pytest

from accounts.elderly import COOKIE
from accounts.tests.factories import PatientFactory
from booking.alerts import subscribe_to_doctor
from booking.allocation import draw_schedule
from booking.models import Appointment
from booking.services import book_slot, cancel_appointment
from booking.tests import walks
from config.tests.browser import axe_violations, screenshot
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.models import AllocationPolicy
from scheduling.tests.factories import make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


@pytest.fixture
def doctor():
    doctor = DoctorFactory(registration_fee_fen=2000, name="李明")
    BookingRulesFactory(hospital=doctor.hospital, lottery_window_hours=6 * 24, **ALL_ONLINE)
    return doctor


@pytest.fixture
def patient():
    return PatientFactory(name="王小明")


@pytest.fixture
def sandbox(settings):
    settings.PAYMENTS_SANDBOX = True


def _look(page, name):
    """Save the page for a person to look at, and hold it to axe-core's serious and critical rules."""
    screenshot(page, f"booking-{name}-375")
    found = [(v["id"], [node["target"] for node in v["nodes"]]) for v in axe_violations(page)]
    assert found == [], name
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"{name} scrolls sideways on a phone"


def test_book_pay_reschedule_cancel_and_see_the_refund(phone_page, live_server, sandbox, doctor, patient):
    page = phone_page
    session = make_session(doctor=doctor, segments=2, places=3)
    first, second = session.slots.order_by("start_at")
    walks.log_in_as(page, patient.user, live_server.url)

    page.goto(f"/book/{first.pk}/")
    assert page.get_by_text("¥20.00").first.is_visible()
    assert page.get_by_text("退号截止").first.is_visible()
    _look(page, "book")
    order_no = walks.book_slot_page(page, first.pk, patient.name)
    assert page.get_by_text("前完成支付").first.is_visible()
    _look(page, "pay")

    assert walks.pay_in_sandbox(page) == order_no
    appointment = Appointment.objects.get(order_no=order_no)
    assert appointment.status == Appointment.Status.CONFIRMED
    assert page.get_by_text(str(appointment.queue_number), exact=True).first.is_visible()
    _look(page, "success")

    ics = walks.download_calendar(page, order_no)
    assert b"BEGIN:VEVENT" in ics
    assert order_no.encode() in ics

    page.goto("/appointments/")
    assert page.get_by_text(doctor.name).first.is_visible()
    _look(page, "appointments")

    page.goto(f"/appointments/{order_no}/reschedule/")
    _look(page, "reschedule")
    moved = walks.reschedule(page, order_no, second.pk)
    assert page.get_by_text("改约成功").first.is_visible()
    assert Appointment.objects.get(order_no=moved).slot_id == second.pk

    page.goto(f"/appointments/{moved}/cancel/")
    _look(page, "cancel")
    walks.cancel(page, moved, "临时有事")
    page.reload()  # the sandbox refunds at once: the page now says it is done
    assert page.get_by_text("退款已完成").first.is_visible()
    _look(page, "cancelled")
    assert Appointment.objects.get(order_no=moved).status == Appointment.Status.REFUNDED


def test_a_full_slot_leads_to_the_waitlist_then_an_offer_to_pay(phone_page, live_server, sandbox, doctor, patient):
    page = phone_page
    slot = make_session(doctor=doctor, places=1).slots.get()
    taker = PatientFactory()
    taken = book_slot(user=taker.user, patient=taker, slot=slot)
    walks.log_in_as(page, patient.user, live_server.url)

    page.goto(f"/book/{slot.pk}/")
    assert page.get_by_text("该时段号源已约满").first.is_visible()
    _look(page, "full")
    walks.join_waitlist_page(page, slot.pk, patient.name)
    assert page.get_by_text("当前排在第 1 位").first.is_visible()
    _look(page, "waitlist")

    cancel_appointment(user=taker.user, appointment=taken)  # the place comes back: offered to the line
    page.reload()
    assert page.get_by_text("候补成功，号源已为您保留").first.is_visible()
    _look(page, "waitlist-offer")
    page.get_by_role("link", name="去支付").click()
    walks.pay_in_sandbox(page)
    offered = Appointment.objects.get(patient=patient)
    assert offered.status == Appointment.Status.CONFIRMED


def test_a_lottery_entry_then_the_draw_then_the_result(phone_page, live_server, doctor, patient):
    page = phone_page
    schedule = make_session(doctor=doctor, places=2, policy=AllocationPolicy.LOTTERY)
    walks.log_in_as(page, patient.user, live_server.url)

    page.goto(f"/book/{schedule.slots.get().pk}/")
    assert page.get_by_text("抽签：报名截止后随机抽取").first.is_visible()
    walks.enter_draw(page, schedule.slots.get().pk, patient.name)
    assert page.get_by_text("等待抽签").first.is_visible()
    _look(page, "requests")

    draw_schedule(schedule=schedule, now=schedule.request_closes_at + datetime.timedelta(seconds=1))
    page.reload()
    assert page.get_by_text("中签").first.is_visible()
    page.get_by_role("link", name="中签，去支付").click()
    assert page.get_by_text("待支付").first.is_visible()


def test_penalties_and_alerts_pages(phone_page, live_server, doctor, patient):
    page = phone_page
    walks.log_in_as(page, patient.user, live_server.url)
    page.goto("/me/penalties/")
    assert page.get_by_text("没有失信记录").first.is_visible()
    _look(page, "penalties")
    subscribe_to_doctor(user=patient.user, doctor=doctor)
    page.goto("/alerts/")
    assert page.get_by_text("提醒中").first.is_visible()
    _look(page, "alerts")


def test_wechat_pay_shows_a_scannable_code_with_the_deadline(phone_page, live_server, wechat, doctor, patient):
    page = phone_page
    slot = make_session(doctor=doctor).slots.get()
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    walks.log_in_as(page, patient.user, live_server.url)
    page.goto(f"/appointments/{appointment.order_no}/pay/")
    page.get_by_label("微信支付").check()
    page.get_by_role("button", name="去支付").click()
    assert page.get_by_role("img", name="微信支付二维码").is_visible()
    assert page.get_by_text("前完成支付").first.is_visible()
    _look(page, "wechat-qr")


def test_the_booking_pages_in_elderly_mode(phone_page, live_server, sandbox, doctor, patient):
    """长辈模式 on the booking side: large text, one column, no sideways scroll, axe-clean."""
    page = phone_page
    page.context.add_cookies([{"name": COOKIE, "value": "1", "url": live_server.url}])
    session = make_session(doctor=doctor, segments=2, places=2)
    first = session.slots.order_by("start_at").first()
    walks.log_in_as(page, patient.user, live_server.url)
    pages = {"book": f"/book/{first.pk}/"}
    order_no = walks.book_slot_page(page, first.pk, patient.name)
    pages |= {
        "pay": f"/appointments/{order_no}/pay/",
        "appointment": f"/appointments/{order_no}/",
        "appointments": "/appointments/",
        "reschedule": f"/appointments/{order_no}/reschedule/",
        "cancel": f"/appointments/{order_no}/cancel/",
        "requests": "/requests/",
        "waitlist": "/waitlist/",
        "penalties": "/me/penalties/",
        "alerts": "/alerts/",
    }
    for name, path in pages.items():
        page.goto(path)
        assert page.locator("body.elderly").count() == 1, name
        assert float(page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")) >= 18
        _look(page, f"elderly-{name}")
