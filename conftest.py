import os
import shutil

import pytest


@pytest.fixture(autouse=True)
def _locmem_everything(settings):
    """Tests never touch a real SMS gateway or payment provider unless they set one up."""
    settings.SMS_BACKEND = "console"
    settings.PAYMENTS_SANDBOX = False


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The cache holds allauth's rate-limit counters; one test's attempts must not throttle the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_user(db):
    """pytest-django's admin_user (and admin_client) with a phone number as the login."""
    from accounts.tests.factories import SuperUserFactory

    return SuperUserFactory(phone="13900009999", name="测试超级管理员")


# --- Browser tests (Playwright driving Debian's Chromium) -------------------------------------
# `phone_page` / `desktop_page` open the live server in a headless Chromium at 375×812 or
# 1280×800 (base_url set, so `page.goto("/")` works). Helpers: config/tests/browser.py.
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls a test makes
    # between page actions are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS, headless=True)
        yield browser
        browser.close()


def _page(browser, live_server, width, height):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    yield from _page(browser, live_server, 375, 812)


@pytest.fixture
def desktop_page(browser, live_server):
    yield from _page(browser, live_server, 1280, 800)
