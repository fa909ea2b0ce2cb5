"""The admin report pages: charts rendered on the server, and staff see only their own hospital."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import SuperUserFactory
from analytics.models import AttemptMinute
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.tests.factories import make_session

from .conftest import ALL_ONLINE

pytestmark = pytest.mark.django_db

QUEUE_REPORT = reverse("admin:analytics_queue_report")
FAIRNESS = reverse("admin:analytics_fairness")


@pytest.fixture
def other_session(db):
    doctor = DoctorFactory(hospital__name="丙医院")
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    session = make_session(doctor=doctor, places=3)
    AttemptMinute.objects.create(schedule=session, minute=session.release_at, attempts=90, won=3)
    return session


@pytest.fixture
def staff(session):
    user = HospitalStaffFactory(hospital=session.doctor.hospital).user
    user.user_permissions.add(Permission.objects.get(codename="view_attemptminute"))
    return user


def _report_query(session):
    day = session.date
    return {
        "department": session.department_id,
        "date_from": (day - datetime.timedelta(days=7)).isoformat(),
        "date_to": day.isoformat(),
        "target_wait": 15,
        "target_p99_ms": 500,
    }


def test_queue_report_page_shows_tables_and_a_server_side_chart(client, session, staff):
    client.force_login(staff)
    response = client.get(QUEUE_REPORT, _report_query(session))
    assert response.status_code == 200
    text = response.content.decode()
    assert "放号时刻的预约请求排队" in text
    assert 'src="data:image/png;base64,' in text
    assert '<script src="http' not in text  # nothing from a CDN


def test_staff_get_404_for_another_hospitals_department_or_session(client, session, staff, other_session):
    client.force_login(staff)
    assert client.get(QUEUE_REPORT, _report_query(other_session)).status_code == 404
    assert client.get(FAIRNESS, {"schedule": other_session.pk, "rounds": 2}).status_code == 404
    page = client.get(FAIRNESS).content.decode()
    assert f"#{session.pk} " in page
    assert "丙" not in page and f'?schedule={other_session.pk}"' not in page


def test_staff_see_only_their_hospitals_attempt_counts(client, session, staff, other_session):
    AttemptMinute.objects.create(schedule=session, minute=session.release_at, attempts=12, won=2)
    client.force_login(staff)
    page = client.get(reverse("admin:analytics_attemptminute_changelist")).content.decode()
    assert "丙" not in page
    assert str(session.doctor.name) in page


def test_fairness_page_compares_the_three_policies_for_a_sessions_demand(client, session, staff):
    AttemptMinute.objects.create(schedule=session, minute=session.release_at, attempts=40, won=2)
    client.force_login(staff)
    response = client.get(FAIRNESS, {"schedule": session.pk, "rounds": 3})
    assert response.status_code == 200
    text = response.content.decode()
    for label in ("先到先得", "抽签", "优先级"):
        assert f'<th scope="row">{label}</th>' in text
    assert "模拟 40 位患者争 2 个线上号源" in text
    assert 'src="data:image/png;base64,' in text


def test_superuser_may_report_on_any_hospital(client, other_session):
    client.force_login(SuperUserFactory())
    assert client.get(QUEUE_REPORT, _report_query(other_session)).status_code == 200
    assert client.get(FAIRNESS, {"schedule": other_session.pk, "rounds": 2}).status_code == 200


def test_staff_without_the_analytics_permission_are_refused(client, session):
    client.force_login(HospitalStaffFactory(hospital=session.doctor.hospital, role_permissions=False).user)
    assert client.get(QUEUE_REPORT).status_code == 403
    assert client.get(FAIRNESS).status_code == 403
