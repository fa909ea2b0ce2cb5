"""Staff rows and roles in the admin: a row keeps its account, a role change moves the groups,
and a hospital_admin never makes anyone more than a hospital_admin."""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.tests.factories import StaffUserFactory, SuperUserFactory, UserFactory
from hospital.models import HospitalStaff
from hospital.roles import ROLE_GROUP_NAMES, StaffChangeRefused, change_staff_role
from hospital.tests.factories import HospitalFactory, HospitalStaffFactory

pytestmark = pytest.mark.django_db

STAFF = "/admin/hospital/hospitalstaff/"


@pytest.fixture
def hospital():
    return HospitalFactory(name="甲医院")


@pytest.fixture
def other_hospital():
    return HospitalFactory(name="乙医院")


@pytest.fixture
def hospital_admin(hospital):
    return HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN)


@pytest.fixture
def front_desk(hospital):
    return HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.FRONT_DESK)


def group_names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def change(client, staff, **data):
    return client.post(f"{STAFF}{staff.pk}/change/", {"hospital": staff.hospital_id, "role": staff.role, **data})


def test_the_user_of_a_staff_row_cannot_be_repointed(client, hospital_admin, front_desk):
    stranger = UserFactory()
    client.force_login(hospital_admin.user)
    page = client.get(f"{STAFF}{front_desk.pk}/change/")
    assert "user" not in page.context["adminform"].form.fields
    change(client, front_desk, user=stranger.pk)
    front_desk.refresh_from_db()
    assert front_desk.user_id != stranger.pk
    assert not HospitalStaff.objects.filter(user=stranger).exists()


def test_superusers_cannot_repoint_a_staff_row_either(admin_client, front_desk):
    stranger = UserFactory()
    change(admin_client, front_desk, user=stranger.pk)
    front_desk.refresh_from_db()
    assert front_desk.user_id != stranger.pk


def test_the_service_refuses_a_repointed_row(hospital_admin, front_desk):
    front_desk.user = UserFactory()
    with pytest.raises(StaffChangeRefused):
        change_staff_role(staff=front_desk, hospital=front_desk.hospital, role="scheduler", by=hospital_admin.user)


def test_changing_the_role_in_the_admin_moves_the_permission_groups(client, hospital_admin, front_desk):
    client.force_login(hospital_admin.user)
    response = change(client, front_desk, role=HospitalStaff.Role.SCHEDULER)
    assert response.status_code == 302
    front_desk.refresh_from_db()
    assert front_desk.role == HospitalStaff.Role.SCHEDULER
    assert group_names(front_desk.user) == {ROLE_GROUP_NAMES[HospitalStaff.Role.SCHEDULER]}
    assert front_desk.user.has_perm("scheduling.change_schedule")
    assert not front_desk.user.has_perm("booking.change_appointment")


def test_a_superuser_adding_a_staff_row_gives_the_role_group(admin_client, hospital):
    user = UserFactory()
    response = admin_client.post(f"{STAFF}add/", {"user": user.pk, "hospital": hospital.pk, "role": "front_desk"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff
    assert group_names(user) == {ROLE_GROUP_NAMES[HospitalStaff.Role.FRONT_DESK]}


def test_a_hospital_admin_cannot_move_staff_to_another_hospital(client, hospital_admin, front_desk, other_hospital):
    client.force_login(hospital_admin.user)
    response = change(client, front_desk, hospital=other_hospital.pk)
    assert response.status_code == 200
    assert "hospital" in response.context["adminform"].form.errors
    front_desk.refresh_from_db()
    assert front_desk.hospital_id == hospital_admin.hospital_id


def test_there_is_no_role_above_hospital_admin(client, hospital_admin):
    client.force_login(hospital_admin.user)
    for role in ("superuser", "admin", ""):
        response = change(client, hospital_admin, role=role)
        assert response.status_code == 200
        assert "role" in response.context["adminform"].form.errors
    hospital_admin.refresh_from_db()
    assert hospital_admin.role == HospitalStaff.Role.HOSPITAL_ADMIN


def test_a_hospital_admin_cannot_make_anyone_a_superuser_or_grant_groups(client, hospital_admin, front_desk):
    user = hospital_admin.user
    client.force_login(user)
    for target in (user, front_desk.user):
        response = client.post(
            f"/admin/accounts/user/{target.pk}/change/",
            {"is_superuser": "on", "is_staff": "on", "user_permissions": [p.pk for p in Permission.objects.all()[:5]]},
        )
        assert response.status_code == 403
        target.refresh_from_db()
        assert not target.is_superuser
        assert not target.user_permissions.exists()
    assert client.get("/admin/auth/group/").status_code == 403
    assert client.post("/admin/auth/group/add/", {"name": "全部权限"}).status_code == 403
    assert not Group.objects.filter(name="全部权限").exists()
    assert client.get(f"{STAFF}add/").status_code == 403


def test_the_service_refuses_a_front_desk_or_another_hospitals_admin(front_desk, hospital_admin, other_hospital):
    outsider = HospitalStaffFactory(hospital=other_hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN).user
    for actor in (front_desk.user, outsider, StaffUserFactory()):
        with pytest.raises(StaffChangeRefused):
            change_staff_role(staff=hospital_admin, hospital=hospital_admin.hospital, role="front_desk", by=actor)
    hospital_admin.refresh_from_db()
    assert hospital_admin.role == HospitalStaff.Role.HOSPITAL_ADMIN
    superuser = SuperUserFactory()
    change_staff_role(staff=hospital_admin, hospital=other_hospital, role="scheduler", by=superuser)
    hospital_admin.refresh_from_db()
    assert (hospital_admin.hospital, hospital_admin.role) == (other_hospital, "scheduler")


def test_extra_permissions_never_open_models_of_no_hospital(hospital_admin):
    """Whatever a superuser once granted, a hospital's staff hold no permission outside hospital models."""
    user = hospital_admin.user
    user.user_permissions.set(Permission.objects.all())
    user = type(user).objects.get(pk=user.pk)
    assert user.has_perm("hospital.change_doctor")
    assert not user.has_perm("accounts.change_user")
    assert not user.has_perm("auth.change_group")
    assert not user.has_perm("payments.view_payment")
    assert not user.has_module_perms("accounts")
    assert user.has_module_perms("booking")


@pytest.mark.parametrize("role", HospitalStaff.Role.values)
def test_the_admin_index_lists_only_hospital_apps_to_staff(client, role):
    user = HospitalStaffFactory(role=role).user
    user.user_permissions.set(Permission.objects.all())
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    hospital_apps = {"hospital", "scheduling", "booking", "partners", "analytics", "desk"}
    assert {app["app_label"] for app in response.context["app_list"]} == hospital_apps
