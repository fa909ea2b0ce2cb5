"""A front-desk morning and a doctor's follow-up in Chromium at 1280×800; slot and schedule lists on one line."""

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD, resident_id_number
from booking.models import Appointment
from config.tests.browser import screenshot
from desk.tests.conftest import online_booking

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
COUNT_PRINTS = "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"


def log_in(page, user, next_url):
    page.add_init_script(COUNT_PRINTS)
    page.goto(f"/admin/login/?next={next_url}")
    page.fill("input[name=username]", user.phone)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_a_front_desk_morning(desktop_page, world):
    page = desktop_page
    arrived = online_booking(world, slot_index=3, name="刘建国")
    missed = online_booking(world, slot_index=0, name="赵敏")
    log_in(page, world["front_desk"], "/desk/window/")

    # An elderly walk-in with an ID card and no phone.
    id_number = resident_id_number(birth_date=__import__("datetime").date(1942, 5, 4), gender="F", order=3)
    page.fill("#id_q", id_number)
    page.keyboard.press("Enter")
    page.get_by_text("未找到，请在右侧登记。").wait_for()
    page.fill("#id_name", "孙桂兰")
    page.fill("#id_id_number", id_number)
    page.select_option("#id_gender", "F")
    page.fill("#id_birth_date", "1942-05-04")
    page.get_by_role("button", name="登记").click()
    page.get_by_text("已登记就诊人：孙桂兰").wait_for()
    screenshot(page, "desk-window-slots")
    page.locator("button:has-text('挂号')").first.click()
    page.get_by_text("挂号凭条").first.wait_for()
    walk_in = Appointment.objects.get(patient__name="孙桂兰")
    assert page.get_by_test_id("order-no").inner_text() == walk_in.order_no
    assert page.get_by_test_id("queue-number").inner_text() == str(walk_in.queue_number)
    page.get_by_role("button", name="打印凭条").click()
    assert page.evaluate("window.__printed") == 1
    page.select_option("#id_method", "cash")
    page.get_by_role("button", name="收费").click()
    page.get_by_text("已收费").first.wait_for()
    screenshot(page, "desk-receipt-paid")
    walk_in.refresh_from_db()
    assert walk_in.paid_at is not None and walk_in.channel == "window"

    # A patient who booked online hands over the order number: a scan types it and presses Enter.
    page.goto("/desk/day/")
    page.fill("#id_q", arrived.order_no)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**q={arrived.order_no}*")
    rows = page.locator("#desk-day tbody tr")
    assert rows.count() == 1 and "刘建国" in rows.first.inner_text()
    page.get_by_role("button", name="签到 刘建国").click()
    page.wait_for_url("**/ticket/?print=1")
    assert page.get_by_test_id("queue-number").inner_text() == str(arrived.queue_number)
    assert page.evaluate("window.__printed") == 1
    screenshot(page, "desk-ticket")
    arrived.refresh_from_db()
    assert arrived.status == Appointment.Status.CHECKED_IN

    # The 08:00 patient never came.
    page.goto("/desk/day/")
    page.get_by_role("button", name="爽约 赵敏").click()
    page.get_by_text("已标记爽约：赵敏").wait_for()
    screenshot(page, "desk-day-screen")
    missed.refresh_from_db()
    assert missed.status == Appointment.Status.NO_SHOW


def test_a_doctors_follow_up_booking(desktop_page, world):
    page = desktop_page
    seen = online_booking(world, slot_index=1, name="陈立")
    log_in(page, world["doctor_user"], "/desk/doctor/")
    screenshot(page, "desk-doctor-day")
    page.get_by_role("link", name="为陈立预约复诊").click()
    page.locator("input[name=note]").first.fill("一周后复查")
    page.locator("form button:has-text('预约')").first.click()
    page.get_by_text("已为陈立预约复诊").wait_for()
    screenshot(page, "desk-doctor-follow-up-booked")
    follow_up = Appointment.objects.get(patient=seen.patient, schedule=world["tomorrow"])
    assert follow_up.channel == "clinic"


def test_slot_and_schedule_lists_fit_1280_without_wrapping(desktop_page, world):
    page = desktop_page
    log_in(page, world["admin"], "/admin/scheduling/slot/")
    for url, name in (
        ("/admin/scheduling/slot/", "admin-slot-list-1280"),
        ("/admin/scheduling/schedule/", "admin-schedule-list-1280"),
    ):
        page.goto(url)
        screenshot(page, name)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.querySelector('.results').scrollWidth,"
            " document.querySelector('.results').clientWidth]"
        )
        assert widths[0] <= 1280 and widths[1] <= widths[2], (url, widths)  # nothing hidden to scroll to
        heights = page.evaluate(
            "() => [...document.querySelectorAll('#result_list tbody tr')].map(r => r.getBoundingClientRect().height)"
        )
        assert heights and max(heights) < 40, (url, heights)


def test_the_dashboard_on_the_admin_index(desktop_page, world):
    from desk.services import snapshot_day

    for index in range(5):
        online_booking(world, slot_index=index)
    online_booking(world, session="tomorrow")
    for day in (world["today"].date, world["tomorrow"].date):
        snapshot_day(hospital=world["hospital"], date=day)
    log_in(desktop_page, world["admin"], "/admin/")
    assert desktop_page.get_by_test_id("bookings-today").inner_text() == "5"
    screenshot(desktop_page, "admin-dashboard")
