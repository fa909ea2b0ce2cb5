"""Patient pages that show places: department (doctors, 最近可约), doctor (the booking window), search."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking.services import book_slot
from hospital.tests.factories import DepartmentFactory, DoctorFactory
from scheduling.models import Schedule, Slot
from scheduling.tests.browse_data import hospital_to_browse
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return hospital_to_browse()


def department_url(world, department=None):
    return f"/hospitals/{world.hospital.code}/departments/{(department or world.neurology).pk}/"


def test_the_hospital_page_links_every_department_of_the_tree(client, world):
    page = client.get(f"/hospitals/{world.hospital.code}/").content.decode()
    assert f'href="{department_url(world, world.internal)}"' in page
    assert f'href="{department_url(world)}"' in page
    assert f'href="/doctors/{world.doctor.pk}/"' in page


def test_the_department_page_lists_its_doctors_with_title_fee_and_next_day(client, world):
    page = client.get(department_url(world)).content.decode()
    assert "王明" in page and "主任医师" in page and "¥50.00" in page
    assert "李华" in page and "¥20.00" in page
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert f"最近可约：<strong>{tomorrow.month}月{tomorrow.day}日" in page


def test_a_parent_department_shows_its_sub_departments_doctors(client, world):
    page = client.get(department_url(world, world.internal)).content.decode()
    assert "王明" in page
    assert f'href="{department_url(world)}"' in page  # the sub-department link


def test_next_free_places_link_to_booking_soonest_first_and_skip_the_full_and_unreleased(client, world):
    full = world.colleague_session.slots.order_by("start_at").first()
    Slot.objects.filter(pk=full.pk).update(online_booked=full.online_capacity, booked=full.online_capacity)
    page = client.get(department_url(world)).content.decode()
    section = page.split('id="next-heading"')[1].split("</section>")[0]
    links = [int(part.split("/")[0]) for part in section.split('href="/book/')[1:]]
    assert links
    starts = list(Slot.objects.filter(pk__in=links).values_list("start_at", flat=True))
    assert [Slot.objects.get(pk=pk).start_at for pk in links] == sorted(starts)
    assert full.pk not in links
    assert not set(links) & set(world.later.slots.values_list("pk", flat=True))  # not released yet


def test_the_department_page_costs_fixed_queries_whatever_the_doctors_and_slots(
    client, world, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8) as few:
        client.get(department_url(world))
    for _ in range(4):
        extra = DoctorFactory(hospital=world.hospital, departments=[world.neurology])
        make_session(doctor=extra, date=timezone.localdate() + datetime.timedelta(days=2), segments=6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(department_url(world))


def test_a_closed_department_or_another_hospitals_is_404(client, world):
    other = DepartmentFactory()
    assert client.get(f"/hospitals/{world.hospital.code}/departments/{other.pk}/").status_code == 404
    world.neurology.is_active = False
    world.neurology.save()
    assert client.get(department_url(world)).status_code == 404


def test_the_doctor_page_shows_each_segment_with_places_left_as_a_booking_link(client, world):
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    for slot in world.soon.slots.all():
        assert f'href="/book/{slot.pk}/"' in page
    assert "余 3" in page
    assert "上午" in page and "下午" in page


def test_a_full_segment_offers_the_waitlist(client, world):
    slot = world.soon.slots.order_by("start_at").first()
    patient = PatientFactory()
    for _ in range(slot.online_capacity):
        book_slot(user=patient.user, patient=PatientFactory(user=patient.user), slot=slot)
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    assert "约满·可候补" in page


def test_a_day_not_yet_released_shows_when_with_a_countdown_and_no_booking_link(client, world):
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    world.later.refresh_from_db()
    at = timezone.localtime(world.later.release_at)
    assert f"{at.month}月{at.day}日 {at:%H:%M} 放号" in page
    assert f'data-countdown datetime="{at.isoformat()}"' in page
    for slot in world.later.slots.all():
        assert f'href="/book/{slot.pk}/"' not in page


def test_the_doctor_page_explains_the_allocation_policies(client, world):
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    assert "先到先得：" in page and "抽签：" in page and "优先：" in page
    assert "报名截止：" in page  # the lottery session still takes requests


def test_a_lottery_whose_requests_closed_offers_no_link(client, world):
    Schedule.objects.filter(pk=world.lottery.pk).update(request_closes_at=timezone.now())
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    assert "报名已截止" in page
    for slot in world.lottery.slots.all():
        assert f'href="/book/{slot.pk}/"' not in page


def test_the_doctor_page_offers_the_release_alert_and_the_hospital_phone(client, world):
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    assert f'action="/doctors/{world.doctor.pk}/alerts/"' in page
    assert "csrfmiddlewaretoken" in page
    assert world.hospital.phone in page
    assert "工作人员可以代您预约" in page


def test_a_suspended_session_says_so(client, world):
    Schedule.objects.filter(pk=world.soon.pk).update(status=Schedule.Status.SUSPENDED, suspended_reason="医生外出会诊")
    page = client.get(f"/doctors/{world.doctor.pk}/").content.decode()
    assert "停诊" in page and "医生外出会诊" in page


def test_the_doctor_page_costs_fixed_queries_whatever_the_sessions_and_slots(
    client, world, django_assert_max_num_queries
):
    # 8 for the page, plus the historical chance (analytics' template tag).
    with django_assert_max_num_queries(12) as few:
        client.get(f"/doctors/{world.doctor.pk}/")
    for days in (3, 4, 5):
        make_session(doctor=world.doctor, date=timezone.localdate() + datetime.timedelta(days=days), segments=8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"/doctors/{world.doctor.pk}/")


def test_an_inactive_doctor_is_404(client, world):
    world.doctor.is_active = False
    world.doctor.save()
    assert client.get(f"/doctors/{world.doctor.pk}/").status_code == 404


def test_search_by_symptom_suggests_the_department_with_the_emergency_line(client, world):
    page = client.get("/search/", {"q": "孩子老是头疼"}).content.decode()
    assert "按症状推荐的科室" in page
    assert f'href="{department_url(world)}"' in page
    assert "120" in page


@pytest.mark.parametrize(("text", "found"), [("王明", "/doctors/{doctor}/"), ("神经", "{department}")])
def test_search_finds_a_doctor_or_a_department_by_name(client, world, text, found):
    page = client.get("/search/", {"q": text}).content.decode()
    assert found.format(doctor=world.doctor.pk, department=department_url(world)) in page


def test_search_without_a_match_says_so_and_without_words_explains(client, world):
    assert "没有找到" in client.get("/search/", {"q": "查无此人"}).content.decode()
    page = client.get("/search/").content.decode()
    assert "120" in page and "没有找到" not in page


def test_search_queries_stay_fixed_whatever_the_doctors(client, world, django_assert_max_num_queries):
    DoctorFactory(hospital=world.hospital, departments=[world.neurology], specialty="头疼")
    with django_assert_max_num_queries(10) as few:
        client.get("/search/", {"q": "头疼"})
    DoctorFactory.create_batch(5, hospital=world.hospital, departments=[world.neurology], specialty="头疼")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/search/", {"q": "头疼"})
