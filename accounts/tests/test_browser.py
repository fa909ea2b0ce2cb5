"""The patient pages in Chromium: sign-up by SMS 验证码, a 就诊人, 导诊 to a doctor, 长辈模式; each
main page at 375 px, in both modes, screenshotted (var/screenshots/) and checked with axe-core."""

import datetime

import pytest

from accounts.models import Patient, User
from accounts.tests.factories import DEFAULT_PASSWORD, PatientFactory, UserFactory, resident_id_number
from accounts.tests.walks import (
    add_patient,
    find_doctor_by_symptom,
    log_in_with_password,
    sign_up_by_sms,
    toggle_elderly,
)
from config.tests.browser import axe_violations, screenshot
from scheduling.tests.browse_data import hospital_to_browse

pytestmark = pytest.mark.django_db(transaction=True)


def scroll_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_a_newcomer_signs_up_by_sms_adds_a_patient_and_finds_a_doctor_by_symptom(phone_page):
    world = hospital_to_browse()
    sign_up_by_sms(phone_page, "13912345678")
    assert User.objects.get().phone_verified

    born = datetime.date(1956, 3, 9)
    add_patient(
        phone_page,
        name="张桂兰",
        id_number=resident_id_number(birth_date=born, gender="F"),
        gender="女",
        birth_date=born.isoformat(),
        relation="父母",
    )
    assert phone_page.get_by_role("heading", name="张桂兰").is_visible()
    assert Patient.objects.get().name == "张桂兰"
    assert resident_id_number(birth_date=born, gender="F") not in phone_page.content()  # shown masked

    find_doctor_by_symptom(phone_page, "最近总是头疼")
    assert phone_page.get_by_role("heading", level=1).inner_text().startswith(world.doctor.name)
    assert phone_page.locator(f'a[href="/book/{world.soon.slots.first().pk}/"]').count() == 1


def test_elderly_mode_is_remembered_in_the_browser_and_on_the_account(phone_page, browser, live_server):
    hospital_to_browse()
    user = UserFactory(phone="13700001111")
    phone_page.goto("/")
    assert phone_page.locator("body.elderly").count() == 0
    toggle_elderly(phone_page)
    phone_page.goto("/hospitals/city-first/")
    assert phone_page.locator("body.elderly").count() == 1
    assert float(phone_page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")) >= 18

    log_in_with_password(phone_page, "13700001111", DEFAULT_PASSWORD)
    toggle_elderly(phone_page)  # off, then on again while signed in: the account remembers it
    assert phone_page.locator("body.elderly").count() == 0
    toggle_elderly(phone_page)
    user.refresh_from_db()
    assert user.elderly_mode

    other_browser = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 812})
    try:
        page = other_browser.new_page()
        log_in_with_password(page, "13700001111", DEFAULT_PASSWORD)
        page.goto("/")
        assert page.locator("body.elderly").count() == 1
    finally:
        other_browser.close()


def test_in_elderly_mode_home_to_a_bookable_place_takes_three_screens(phone_page):
    world = hospital_to_browse()
    phone_page.goto("/")
    toggle_elderly(phone_page)
    phone_page.get_by_role("link", name=world.hospital.name).click()  # screen 2: the hospital
    phone_page.get_by_role("link", name="神经内科").click()  # screen 3: the department
    first = phone_page.locator("ul.slots a").first  # 最近可约 → screen 4 is /book/<slot>/, then booked
    assert first.get_attribute("href").startswith("/book/")
    assert phone_page.get_by_text(world.hospital.phone).first.is_visible()
    assert phone_page.get_by_text("工作人员可以代您预约").is_visible()
    for target in phone_page.locator("main a, main button, header a, .elderly-switch button").all():
        box = target.bounding_box()
        assert box is None or box["height"] >= 48, target.inner_text()


PAGES = [
    ("home", "/"),
    ("hospital", "/hospitals/city-first/"),
    ("department", "/hospitals/city-first/departments/{neurology}/"),
    ("doctor", "/doctors/{doctor}/"),
    ("search", "/search/?q=头疼"),
    ("login", "/accounts/login/"),
    ("signup", "/accounts/signup/"),
    ("login-code", "/accounts/login/code/"),
    ("profile", "/me/"),
    ("password", "/accounts/password/change/"),
    ("patients", "/patients/"),
    ("patient-new", "/patients/new/"),
]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["normal", "elderly"])
def test_main_pages_fit_a_phone_and_pass_axe(phone_page, mode):
    world = hospital_to_browse()
    user = UserFactory(phone="13700002222", elderly_mode=mode == "elderly")
    PatientFactory(user=user, name="赵建国")
    failures = {}
    phone_page.goto("/")
    if mode == "elderly":
        toggle_elderly(phone_page)
    for name, path in PAGES:
        if name == "profile":
            log_in_with_password(phone_page, "13700002222", DEFAULT_PASSWORD)
        phone_page.goto(path.format(neurology=world.neurology.pk, doctor=world.doctor.pk))
        assert phone_page.locator("body.elderly").count() == (mode == "elderly"), name
        assert scroll_width(phone_page) <= 375, f"{name} scrolls sideways"
        screenshot(phone_page, f"patient-{name}-375-{mode}")
        violations = axe_violations(phone_page)
        if violations:
            failures[name] = [(v["id"], [n["html"][:80] for n in v["nodes"][:3]]) for v in violations]
    assert failures == {}


def test_the_doctor_page_is_usable_on_a_desktop(desktop_page):
    world = hospital_to_browse()
    desktop_page.goto(f"/doctors/{world.doctor.pk}/")
    assert scroll_width(desktop_page) <= 1280
    screenshot(desktop_page, "patient-doctor-1280")
    assert axe_violations(desktop_page) == []
