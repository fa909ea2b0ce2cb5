"""Schedules and slots in the admin: 发布, per-channel places, read-only slots, hospital scoping."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalFactory, HospitalStaffFactory
from scheduling.models import Schedule
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

SCHEDULES = "/admin/scheduling/schedule/"
SLOTS = "/admin/scheduling/slot/"


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def hospital():
    hospital = HospitalFactory(name="甲医院")
    BookingRulesFactory(hospital=hospital, online_share=60, partner_share=20, window_share=20, clinic_share=0)
    return hospital


@pytest.fixture
def doctor(hospital):
    return DoctorFactory(hospital=hospital, name="甲医生")


@pytest.fixture
def other_doctor():
    return DoctorFactory(hospital=HospitalFactory(name="乙医院"), name="乙医生")


@pytest.fixture
def scheduler(hospital):
    return HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.SCHEDULER).user


def publish(client, schedules):
    data = {"action": "publish", ACTION_CHECKBOX_NAME: [s.pk for s in schedules]}
    return client.post(SCHEDULES, data, follow=True)


def test_publish_makes_drafts_bookable(client, scheduler, doctor):
    draft = make_session(doctor=doctor, status=Schedule.Status.DRAFT)
    client.force_login(scheduler)
    response = publish(client, [draft])
    assert "发布成功：1个出诊。" in messages_of(response)
    draft.refresh_from_db()
    assert draft.status == Schedule.Status.PUBLISHED


def test_publishing_a_published_session_says_so_and_changes_nothing(client, scheduler, doctor):
    session = make_session(doctor=doctor)
    client.force_login(scheduler)
    response = publish(client, [session])
    assert "1个出诊不是草稿，未发布。" in messages_of(response)


def test_front_desk_is_not_offered_publish(client, doctor, hospital):
    draft = make_session(doctor=doctor, status=Schedule.Status.DRAFT)
    client.force_login(HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.FRONT_DESK).user)
    publish(client, [draft])
    draft.refresh_from_db()
    assert draft.status == Schedule.Status.DRAFT


def test_other_hospitals_staff_cannot_publish_even_with_a_hole_in_scoping(client, doctor, other_doctor, monkeypatch):
    draft = make_session(doctor=doctor, status=Schedule.Status.DRAFT)
    outsider = HospitalStaffFactory(hospital=other_doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user
    client.force_login(outsider)
    assert "所选记录不存在或不属于本院，未做任何更改。" in messages_of(publish(client, [draft]))
    draft.refresh_from_db()
    assert draft.status == Schedule.Status.DRAFT

    monkeypatch.setattr("hospital.admin_scope.staff_hospital_id", lambda user: None)
    response = publish(client, [draft])
    assert f"{draft}：只有本院工作人员可以进行此操作。" in messages_of(response)
    draft.refresh_from_db()
    assert draft.status == Schedule.Status.DRAFT


def test_schedule_page_shows_each_slots_places_per_channel_read_only(client, scheduler, doctor):
    session = make_session(doctor=doctor, places=10, segments=2)
    client.force_login(scheduler)
    response = client.get(f"{SCHEDULES}{session.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for heading in ("线上 已约/号源", "平台 已约/号源", "窗口 已约/号源", "诊间 已约/号源"):
        assert heading in page
    assert "0/6" in page and "0/2" in page and "0/0" in page
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission
    assert 'name="slots-0-capacity"' not in page


def test_status_changes_only_through_the_actions(client, scheduler, doctor):
    session = make_session(doctor=doctor)
    client.force_login(scheduler)
    response = client.get(f"{SCHEDULES}{session.pk}/change/")
    assert 'name="status"' not in response.content.decode()


def test_slot_list_shows_every_channels_places_and_release_flags(client, scheduler, doctor):
    make_session(doctor=doctor, places=10)
    client.force_login(scheduler)
    page = client.get(SLOTS).content.decode()
    for heading in ("已约/号源", "线上", "平台", "窗口", "诊间", "平台余号转线上", "窗口诊间余号转线上"):  # fmt: skip
        assert heading in page
    assert "0/6" in page


def test_saving_a_slot_page_never_writes_the_counters(client, doctor):
    from accounts.tests.factories import SuperUserFactory

    slot = make_session(doctor=doctor, places=10).slots.get()
    client.force_login(SuperUserFactory())
    response = client.post(f"{SLOTS}{slot.pk}/change/", {"capacity": "99", "booked": "7"})
    assert response.status_code == 302
    slot.refresh_from_db()
    assert (slot.capacity, slot.booked) == (10, 0)


def test_hospital_filters_are_hidden_from_staff_of_one_hospital(client, scheduler, doctor, other_doctor):
    make_session(doctor=doctor)
    make_session(doctor=other_doctor)
    client.force_login(scheduler)
    for url in (SCHEDULES, SLOTS, "/admin/scheduling/scheduletemplate/", "/admin/scheduling/slotadjustment/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "乙医院" not in response.content.decode(), url
        assert not any(spec.title == "医院" for spec in response.context["cl"].filter_specs), url


def test_superusers_keep_the_hospital_filter(admin_client, doctor, other_doctor):
    make_session(doctor=doctor)
    make_session(doctor=other_doctor)
    page = admin_client.get(SCHEDULES).content.decode()
    assert "甲医院" in page and "乙医院" in page


def test_a_hospital_lookup_in_the_url_does_not_widen_the_scope(client, scheduler, doctor, other_doctor):
    """An old link with a hospital filter still opens (no 400), and still shows only the staff's own rows."""
    make_session(doctor=doctor)
    make_session(doctor=other_doctor)
    client.force_login(scheduler)
    response = client.get(SCHEDULES, {"doctor__hospital__id__exact": other_doctor.hospital_id})
    assert response.status_code == 200
    assert "乙医生" not in response.content.decode()


def test_other_hospitals_sessions_are_neither_listed_nor_opened(client, scheduler, doctor, other_doctor):
    mine, theirs = make_session(doctor=doctor), make_session(doctor=other_doctor)
    client.force_login(scheduler)
    page = client.get(SCHEDULES).content.decode()
    assert "甲医生" in page and "乙医生" not in page
    assert client.get(f"{SCHEDULES}{theirs.pk}/change/").status_code == 302  # the admin's "does not exist"
    assert client.get(f"{SCHEDULES}{mine.pk}/change/").status_code == 200
    theirs_slot = theirs.slots.get()
    assert client.get(f"{SLOTS}{theirs_slot.pk}/change/").status_code == 302


def test_sessions_are_generated_from_templates_not_added_by_hand(client):
    import datetime

    from django.utils import timezone

    from hospital.models import HospitalStaff
    from hospital.tests.factories import DoctorFactory, HospitalStaffFactory
    from scheduling.models import Schedule, ScheduleTemplate

    doctor = DoctorFactory()
    staff = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user
    template = ScheduleTemplate.objects.create(
        doctor=doctor,
        department=doctor.departments.first(),
        weekday=(timezone.localdate() + datetime.timedelta(days=1)).weekday(),
        period="morning",
        start_time=datetime.time(8, 0),
        end_time=datetime.time(9, 0),
        segment_minutes=30,
        places_per_segment=5,
    )
    client.force_login(staff)
    assert client.get("/admin/scheduling/schedule/add/").status_code == 403
    response = client.post(
        "/admin/scheduling/scheduletemplate/", {"action": "generate", "_selected_action": [template.pk]}, follow=True
    )
    assert response.status_code == 200
    assert Schedule.objects.filter(doctor=doctor).count() == 2
    assert all(s.slots.count() == 2 for s in Schedule.objects.filter(doctor=doctor))
