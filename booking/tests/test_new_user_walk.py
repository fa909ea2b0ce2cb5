"""The whole path of issue 19 in one browser, as a newcomer walks it: sign up by SMS 验证码, add a
就诊人, find a doctor by symptom, book, pay in the sandbox, see it, download the .ics, 改约, cancel
and see the refund; and the booking path in 长辈模式, counted in screens."""

import datetime
import re

import pytest

from accounts.tests.factories import resident_id_number
from accounts.tests.walks import add_patient, find_doctor_by_symptom, sign_up_by_sms, toggle_elderly
from booking.models import Appointment
from booking.tests import walks
from config.tests.browser import axe_violations, screenshot
from scheduling.tests.browse_data import hospital_to_browse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def sandbox(settings):
    settings.PAYMENTS_SANDBOX = True


def test_a_newcomer_books_pays_moves_and_cancels(phone_page, sandbox):
    page = phone_page
    world = hospital_to_browse()
    sign_up_by_sms(page, "13912340001")
    born = datetime.date(1988, 6, 1)
    add_patient(
        page,
        name="陈晓",
        id_number=resident_id_number(birth_date=born, gender="M"),
        gender="男",
        birth_date=born.isoformat(),
    )

    find_doctor_by_symptom(page, "最近总是头疼")
    first, second = world.soon.slots.order_by("start_at")[:2]
    page.locator(f'a[href="/book/{first.pk}/"]').click()
    page.wait_for_url(f"**/book/{first.pk}/")
    order_no = walks.book_slot_page(page, first.pk, "陈晓")
    assert walks.pay_in_sandbox(page) == order_no
    assert Appointment.objects.get(order_no=order_no).status == Appointment.Status.CONFIRMED

    page.goto("/appointments/")
    assert page.get_by_text(world.doctor.name).first.is_visible()
    assert order_no.encode() in walks.download_calendar(page, order_no)

    moved = walks.reschedule(page, order_no, second.pk)
    assert page.get_by_text("改约成功").first.is_visible()
    assert Appointment.objects.get(order_no=moved).slot_id == second.pk

    walks.cancel(page, moved, "临时出差")
    page.reload()
    assert page.get_by_text("退款已完成").first.is_visible()
    assert Appointment.objects.get(order_no=moved).status == Appointment.Status.REFUNDED


def test_in_elderly_mode_home_to_a_booked_place_is_five_screens(phone_page, sandbox):
    page = phone_page
    world = hospital_to_browse()
    sign_up_by_sms(page, "13912340002")
    born = datetime.date(1950, 2, 3)
    add_patient(
        page,
        name="赵大爷",
        id_number=resident_id_number(birth_date=born, gender="M"),
        gender="男",
        birth_date=born.isoformat(),
    )

    screens = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and screens.append(page.url))
    page.goto("/")
    toggle_elderly(page)  # the switch reloads the same screen
    screens.clear()
    screens.append(page.url)  # screen 1: home
    page.get_by_role("link", name=world.hospital.name).click()  # 2: the hospital
    page.get_by_role("link", name="神经内科").click()  # 3: the department, with 最近可约
    page.locator("ul.slots a").first.click()  # 4: the booking page
    page.wait_for_url("**/book/**")
    screenshot(page, "walk-elderly-book-375")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    assert [(v["id"]) for v in axe_violations(page)] == []
    page.get_by_role("group", name="选择就诊人").get_by_text("赵大爷").click()
    page.get_by_role("button", name=re.compile("确认预约")).click()  # 5: booked, to pay
    page.wait_for_url("**/pay/")
    screenshot(page, "walk-elderly-booked-375")
    assert Appointment.objects.filter(patient__name="赵大爷", status=Appointment.Status.PENDING_PAYMENT).count() == 1
    assert len(dict.fromkeys(screens)) <= 5, screens
