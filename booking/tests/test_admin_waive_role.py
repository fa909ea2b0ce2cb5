"""撤销失信记录 (which also lifts the ban it caused) is offered to hospital_admin and superusers only."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking.models import BookingBan, Penalty
from booking.services import book_slot, record_penalty
from hospital.models import HospitalStaff
from hospital.tests.factories import HospitalStaffFactory

pytestmark = pytest.mark.django_db

PENALTIES = "/admin/booking/penalty/"


@pytest.fixture
def banned(rules, slot):
    rules.no_show_threshold = 1
    rules.save()
    patient = PatientFactory()
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    penalty = record_penalty(appointment=appointment, kind=Penalty.Kind.NO_SHOW, now=timezone.now())
    assert BookingBan.objects.filter(person_key=penalty.person_key, lifted_at__isnull=True).exists()
    return penalty


def offered_actions(client) -> set[str]:
    action_form = client.get(PENALTIES).context["action_form"]
    return {name for name, _label in action_form.fields["action"].choices if name} if action_form else set()


def waive(client, penalty):
    data = {"action": "waive", ACTION_CHECKBOX_NAME: [penalty.pk], "apply": "1", "reason": "患者住院"}
    return client.post(PENALTIES, data, follow=True)


@pytest.mark.parametrize("role", [HospitalStaff.Role.FRONT_DESK, HospitalStaff.Role.SCHEDULER])
def test_only_a_hospital_admin_may_waive(client, doctor, banned, role):
    user = HospitalStaffFactory(hospital=doctor.hospital, role=role).user
    client.force_login(user)
    assert "waive" not in offered_actions(client)
    waive(client, banned)
    banned.refresh_from_db()
    assert banned.waived_at is None
    assert BookingBan.objects.get(person_key=banned.person_key).lifted_at is None


def test_a_hospital_admin_and_a_superuser_are_offered_waive(client, admin_client, doctor, banned):
    client.force_login(HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN).user)
    assert "waive" in offered_actions(client)
    assert "waive" in offered_actions(admin_client)
    waive(client, banned)
    banned.refresh_from_db()
    assert banned.waived_at is not None
    assert BookingBan.objects.get(person_key=banned.person_key).lifted_at is not None
