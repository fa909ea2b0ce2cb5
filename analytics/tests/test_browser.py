"""The fairness comparison in a real browser: the server-drawn chart shows, the page is accessible."""

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD, SuperUserFactory
from analytics.models import AttemptMinute
from config.tests.browser import axe_violations, screenshot
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.tests.factories import make_session

from .conftest import ALL_ONLINE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_fairness_page_shows_the_three_policies_and_its_chart(desktop_page):
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    session = make_session(doctor=doctor, places=10)
    AttemptMinute.objects.create(schedule=session, minute=session.release_at, attempts=300, won=10)
    admin = SuperUserFactory()
    page = desktop_page
    page.goto("/admin/login/")
    page.fill("#id_username", admin.phone)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"/admin/analytics/attemptminute/fairness/?schedule={session.pk}&rounds=5")
    assert page.get_by_role("rowheader", name="抽签", exact=True).is_visible()
    chart = page.locator("img[src^='data:image/png']")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "analytics-fairness-1280")
    # Django admin's own breadcrumbs (links told apart by colour only) are not this page's to fix.
    violations = [
        v for v in axe_violations(page) if any(".breadcrumbs" not in " ".join(n["target"]) for n in v["nodes"])
    ]
    assert violations == [], [(v["id"], [n["html"] for n in v["nodes"]]) for v in violations]
