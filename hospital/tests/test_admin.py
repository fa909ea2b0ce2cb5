"""Admin scoping: a hospital's staff see and change only their own hospital's rows."""

import pytest
from django.contrib.auth.models import Group

from hospital.roles import ROLE_GROUP_NAMES, assign_staff_role, sync_role_groups
from hospital.tests.factories import DoctorFactory, HospitalFactory, HospitalStaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_hospitals():
    first, second = HospitalFactory(name="甲医院"), HospitalFactory(name="乙医院")
    DoctorFactory(hospital=first, name="甲医生")
    DoctorFactory(hospital=second, name="乙医生")
    return first, second


def test_staff_sees_only_their_hospitals_doctors(client, two_hospitals):
    first, _second = two_hospitals
    client.force_login(HospitalStaffFactory(hospital=first).user)
    response = client.get("/admin/hospital/doctor/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "甲医生" in page
    assert "乙医生" not in page


def test_staff_cannot_open_another_hospitals_doctor(client, two_hospitals):
    first, second = two_hospitals
    client.force_login(HospitalStaffFactory(hospital=first).user)
    other = second.doctors.get()
    response = client.get(f"/admin/hospital/doctor/{other.pk}/change/")
    assert response.status_code == 302  # the admin's "object does not exist" redirect
    assert client.get(f"/admin/hospital/doctor/{first.doctors.get().pk}/change/").status_code == 200


def test_staff_sees_only_their_own_hospital_row(client, two_hospitals):
    first, _second = two_hospitals
    client.force_login(HospitalStaffFactory(hospital=first).user)
    page = client.get("/admin/hospital/hospital/").content.decode()
    assert "甲医院" in page
    assert "乙医院" not in page


def test_superuser_sees_every_hospital(admin_client, two_hospitals):
    page = admin_client.get("/admin/hospital/doctor/").content.decode()
    assert "甲医生" in page and "乙医生" in page


def test_staff_without_a_hospital_sees_nothing(client, two_hospitals, django_user_model):
    from accounts.tests.factories import StaffUserFactory

    user = StaffUserFactory()
    user.groups.add(sync_role_groups()["hospital_admin"])
    client.force_login(user)
    page = client.get("/admin/hospital/doctor/").content.decode()
    assert "甲医生" not in page and "乙医生" not in page


def test_front_desk_may_not_change_doctors(client, two_hospitals):
    first, _second = two_hospitals
    client.force_login(HospitalStaffFactory(hospital=first, role="front_desk").user)
    doctor = first.doctors.get()
    assert client.get(f"/admin/hospital/doctor/{doctor.pk}/change/").status_code == 200  # view only
    response = client.post(f"/admin/hospital/doctor/{doctor.pk}/change/", {"name": "改名"})
    assert response.status_code == 403


def test_changing_role_moves_the_user_between_groups(two_hospitals):
    first, _second = two_hospitals
    staff = HospitalStaffFactory(hospital=first)
    assign_staff_role(user=staff.user, hospital=first, role="scheduler")
    names = set(staff.user.groups.values_list("name", flat=True))
    assert names == {ROLE_GROUP_NAMES["scheduler"]}
    assert Group.objects.filter(name=ROLE_GROUP_NAMES["hospital_admin"]).exists()
