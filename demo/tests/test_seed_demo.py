import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.id_numbers import parse_resident_id
from accounts.models import Patient, User
from hospital.models import BookingRules, Department, Doctor, Hospital, HospitalStaff
from scheduling.models import AllocationPolicy, Schedule, ScheduleTemplate, Slot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    """seed_demo runs only in development (DEBUG on)."""
    settings.DEBUG = True


SEEDED_APPS = ["accounts", "hospital", "scheduling", "booking", "auth"]


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app_label in SEEDED_APPS
        for model in apps.get_app_config(app_label).get_models()
    }


@pytest.fixture
def seeded():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_running_it_twice_gives_the_same_rows(seeded):
    before = row_counts()
    rules_versions = list(BookingRules.objects.order_by("pk").values_list("version", flat=True))
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert row_counts() == before
    assert list(BookingRules.objects.order_by("pk").values_list("version", flat=True)) == rules_versions


def test_demo_data_has_what_the_pages_need(seeded):
    assert Hospital.objects.count() == 2
    assert Doctor.objects.count() >= 10
    assert set(Doctor.objects.values_list("registration_fee_fen", flat=True)) == {1000, 2000, 3000, 5000}
    for hospital in Hospital.objects.all():
        assert hospital.departments.filter(parent__isnull=False).exists() or hospital.code != "city-first"
        assert BookingRules.objects.filter(hospital=hospital, department=None, doctor=None).count() == 1
    assert BookingRules.objects.filter(department__isnull=False).count() == 1
    assert not Department.objects.filter(location="").exists()  # every SMS says where to go
    policies = set(ScheduleTemplate.objects.values_list("allocation_policy", flat=True))
    assert {AllocationPolicy.FCFS, AllocationPolicy.LOTTERY, AllocationPolicy.PRIORITY} <= policies
    assert Schedule.objects.values("date").distinct().count() >= 12
    assert Slot.objects.filter(capacity__gte=4, capacity__lte=6).count() == Slot.objects.count() > 0


def test_demo_patient_has_two_valid_people(seeded):
    user = User.objects.get_by_phone("13800138000")
    assert user.name == "张三"
    assert user.check_password("demo12345")
    people = {patient.relation: patient for patient in user.patients.all()}
    assert set(people) == {Patient.Relation.SELF, Patient.Relation.CHILD}
    for patient in people.values():
        parsed = parse_resident_id(patient.id_number)
        assert (parsed.birth_date, parsed.gender) == (patient.birth_date, patient.gender)
    key = Patient.document_hash(Patient.IdType.RESIDENT_ID, people[Patient.Relation.SELF].id_number)
    assert Patient.objects.get(id_number_hash=key) == people[Patient.Relation.SELF]


def test_each_hospital_has_an_admin_in_the_admin_group(seeded):
    group = Group.objects.get(name="医院管理员")
    assert group.permissions.filter(codename="change_doctor").exists()
    assert group.permissions.filter(codename="view_appointment").exists()
    staff = HospitalStaff.objects.select_related("user").filter(role=HospitalStaff.Role.HOSPITAL_ADMIN)
    assert sorted(s.hospital.code for s in staff) == ["city-first", "city-maternal-child"]
    for member in staff:
        assert member.user.is_staff and not member.user.is_superuser
        assert member.role == HospitalStaff.Role.HOSPITAL_ADMIN
        assert group in member.user.groups.all()
        assert member.user.has_perm("scheduling.change_schedule")
    assert User.objects.get_by_phone("13900000000").is_superuser


def test_it_prints_the_urls_and_logins(capsys):
    call_command("seed_demo")
    output = capsys.readouterr().out
    for text in ["http://127.0.0.1:8000/", "http://127.0.0.1:8000/admin/", "13800138000", "13900000001",
                 "13900000002", "13900000000 / admin12345"]:  # fmt: skip
        assert text in output


def test_seeded_site_shows_both_hospitals(seeded, client):
    page = client.get("/").content.decode()
    assert "市第一人民医院" in page and "市妇幼保健院" in page
    detail = client.get("/hospitals/city-first/").content.decode()
    assert "心血管内科" in detail and "王建国" in detail


def test_seeded_staff_can_log_into_the_admin(seeded, client):
    client.post("/admin/login/", {"username": "13900000001", "password": "staff12345"})
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "医生" in response.content.decode()


def test_it_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not User.objects.exists()
    assert not Hospital.objects.exists()


def test_the_first_hospital_has_a_front_desk_and_a_doctor_login(seeded):
    from demo.management.commands.seed_demo import DESK_PHONES

    front_desk = User.objects.get_by_phone(DESK_PHONES["front_desk"]).hospital_staff
    doctor = User.objects.get_by_phone(DESK_PHONES["doctor"]).hospital_staff
    assert (front_desk.hospital.code, front_desk.role) == ("city-first", HospitalStaff.Role.FRONT_DESK)
    assert (doctor.hospital.code, doctor.role) == ("city-first", HospitalStaff.Role.DOCTOR)
    assert doctor.doctor.hospital == doctor.hospital and doctor.user.name == doctor.doctor.name
