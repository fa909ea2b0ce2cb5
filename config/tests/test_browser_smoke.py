"""The browser harness itself: Chromium starts, renders Chinese, and reaches the live server."""

import pytest

from config.tests.browser import screenshot
from hospital.tests.factories import HospitalFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_home_page_lists_a_hospital_at_phone_width(phone_page):
    HospitalFactory(name="浏览器测试医院")
    phone_page.goto("/")
    assert phone_page.get_by_text("浏览器测试医院").first.is_visible()
    width = phone_page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, "the home page scrolls sideways on a phone"
    screenshot(phone_page, "smoke-home-375")
