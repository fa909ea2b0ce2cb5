"""Reusable browser steps for the booking half of the patient walk (a Playwright page in, the result out).

Each step starts from a patient page's URL and ends on the page a patient would see next,
so steps chain: `book_slot_page` → `pay_in_sandbox` → `download_calendar` → `reschedule` →
`cancel`. The account pages (sign up, add a 就诊人, find a doctor) are in accounts/tests/walks.py.
"""

import re

from django.conf import settings
from django.test import Client

ORDER_IN_URL = re.compile(r"/appointments/([0-9]{24}(?:-[0-9]{1,3})?)/")


def log_in_as(page, user, base_url: str) -> None:
    """Give the browser a logged-in session for `user` (tests that do not walk through the SMS login)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def order_no_of(page) -> str:
    return ORDER_IN_URL.search(page.url).group(1)


def _choose_patient(page, patient_name: str) -> None:
    page.get_by_role("group", name="选择就诊人").get_by_text(patient_name).click()


def book_slot_page(page, slot_id: int, patient_name: str) -> str:
    """Book a first-come-first-served segment for a 就诊人; lands on the payment page. Returns the order number."""
    page.goto(f"/book/{slot_id}/")
    _choose_patient(page, patient_name)
    page.get_by_role("button", name=re.compile("确认预约")).click()
    page.wait_for_url(re.compile(r"/appointments/.+/pay/$"))
    return order_no_of(page)


def pay_in_sandbox(page) -> str:
    """From the payment page: 模拟支付, confirm, back to the order ("预约成功"). Returns the order number."""
    page.get_by_label("模拟支付").check()
    page.get_by_role("button", name="去支付").click()
    page.wait_for_url(re.compile(r"/payments/sandbox/"))
    page.get_by_role("button", name=re.compile("确认支付")).click()
    page.wait_for_url(re.compile(r"/payments/return/"))
    page.get_by_role("link", name="返回订单").click()
    page.wait_for_url(ORDER_IN_URL)
    page.get_by_role("heading", name=re.compile("预约成功")).wait_for()
    return order_no_of(page)


def download_calendar(page, order_no: str) -> bytes:
    """加入日历 on the order page: the .ics file's bytes."""
    page.goto(f"/appointments/{order_no}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="加入日历").click()
    with open(download.value.path(), "rb") as ics:
        return ics.read()


def reschedule(page, order_no: str, slot_id: int) -> str:
    """改约 to another segment of the same doctor; lands on the new order (or its payment). Returns its number."""
    page.goto(f"/appointments/{order_no}/reschedule/")
    page.locator(f"input[name=slot][value='{slot_id}']").check()
    page.get_by_role("button", name="确认改约").click()
    page.wait_for_url(lambda url: "/reschedule/" not in url)
    return order_no_of(page)


def cancel(page, order_no: str, reason: str) -> None:
    """Cancel with a reason; lands on the order page, which shows the refund status."""
    page.goto(f"/appointments/{order_no}/cancel/")
    page.get_by_label("取消原因").fill(reason)
    page.get_by_role("button", name="确认取消").click()
    page.wait_for_url(re.compile(rf"/appointments/{order_no}/$"))


def join_waitlist_page(page, slot_id: int, patient_name: str) -> None:
    """A full segment: join its 候补; lands on the waitlist page with the position."""
    page.goto(f"/book/{slot_id}/")
    _choose_patient(page, patient_name)
    page.get_by_role("button", name="加入候补").click()
    page.wait_for_url(re.compile(r"/waitlist/$"))


def enter_draw(page, slot_id: int, patient_name: str) -> None:
    """A lottery session: enter the draw; lands on the entries page (等待抽签)."""
    page.goto(f"/book/{slot_id}/")
    _choose_patient(page, patient_name)
    page.get_by_role("button", name="参加抽签").click()
    page.wait_for_url(re.compile(r"/requests/$"))
