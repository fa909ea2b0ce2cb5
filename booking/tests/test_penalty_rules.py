"""The penalty ledger and its rules: what is written, where a ban applies, which rules judge it, who waives it."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import SuperUserFactory
from booking import errors
from booking.models import Appointment, BookingBan, Penalty
from booking.selectors import active_ban, penalties_for_patient
from booking.services import book_slot, cancel_appointment, mark_no_shows, record_payment, waive_penalty
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, HospitalStaffFactory
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def _confirmed(patient, slot, **kwargs):
    appointment = book_slot(
        user=patient.user, patient=patient, slot=slot, now=slot.start_at - datetime.timedelta(days=1), **kwargs
    )
    record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=appointment.created_at)
    appointment.refresh_from_db()
    return appointment


def _no_show(patient, doctor, days_from_now):
    slot = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=days_from_now)).slots.get()
    _confirmed(patient, slot)
    when = slot.schedule.end_at + datetime.timedelta(minutes=1)
    mark_no_shows(now=when)
    return when


# --- late cancels the rules do not count -----------------------------------------------------


def test_a_late_cancel_the_rules_do_not_count_is_not_written(doctor, patient):
    BookingRulesFactory(hospital=doctor.hospital, late_cancel_counts=False, online_share=100, partner_share=0,
                        window_share=0, clinic_share=0)  # fmt: skip
    slot = make_session(doctor=doctor).slots.get()
    appointment = _confirmed(patient, slot)
    cancel_appointment(user=patient.user, appointment=appointment, now=slot.start_at - datetime.timedelta(hours=5))
    assert not Penalty.objects.exists()
    assert not penalties_for_patient(patient=patient).exists()


def test_a_late_cancel_is_judged_by_the_bookings_own_rule_row(doctor, patient):
    """The hospital counts late cancels; this doctor's department does not. The department's row decides."""
    shares = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}
    BookingRulesFactory(hospital=doctor.hospital, late_cancel_counts=True, **shares)
    department = doctor.departments.first()
    BookingRulesFactory(hospital=doctor.hospital, department=department, late_cancel_counts=False, **shares)
    slot = make_session(doctor=doctor).slots.get()
    appointment = _confirmed(patient, slot)
    cancel_appointment(user=patient.user, appointment=appointment, now=slot.start_at - datetime.timedelta(hours=5))
    assert not Penalty.objects.exists()


# --- bans and the staff channels -------------------------------------------------------------


def _banned_and_a_window_slot(rules, doctor, patient):
    for offset in (1, 2, 3):
        when = _no_show(patient, doctor, offset)
    assert active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=when) is not None
    rules.window_share, rules.clinic_share, rules.online_share = 20, 20, 60
    rules.save()
    slot = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=6), places=5).slots.get()
    return slot, when


def test_by_default_a_ban_does_not_refuse_the_window_or_the_clinic(rules, doctor, patient, front_desk):
    assert rules.ban_applies_to_staff_channels is False
    slot, when = _banned_and_a_window_slot(rules, doctor, patient)
    for channel in (Channel.WINDOW, Channel.CLINIC):
        appointment = book_slot(user=front_desk, patient=patient, slot=slot, channel=channel, now=when)
        Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED)
    with pytest.raises(errors.PatientBanned):
        book_slot(user=patient.user, patient=patient, slot=slot, now=when)


@pytest.mark.parametrize("channel", [Channel.WINDOW, Channel.CLINIC])
def test_a_hospital_can_make_its_bans_hold_at_the_window_and_the_clinic(rules, doctor, patient, front_desk, channel):
    slot, when = _banned_and_a_window_slot(rules, doctor, patient)
    rules.ban_applies_to_staff_channels = True
    rules.save()
    with pytest.raises(errors.PatientBanned):
        book_slot(user=front_desk, patient=patient, slot=slot, channel=channel, now=when)


# --- bans follow the rules the bookings were made under -----------------------------------------


def test_a_departments_stricter_no_show_rules_issue_the_ban(doctor, patient):
    """The hospital bans after 3 no-shows; this doctor's department after 1. The booking used the department's row."""
    shares = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}
    BookingRulesFactory(hospital=doctor.hospital, no_show_threshold=3, **shares)
    department = doctor.departments.first()
    BookingRulesFactory(hospital=doctor.hospital, department=department, no_show_threshold=1, ban_days=30, **shares)
    when = _no_show(patient, doctor, 1)
    ban = active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=when)
    assert ban is not None
    assert ban.ends_at == when + datetime.timedelta(days=30)
    assert ban.rules_snapshot["no_show_threshold"] == 1


def test_a_ban_is_lifted_by_the_rules_it_was_issued_under(rules, doctor, patient, hospital_admin):
    """Three no-shows ban (threshold 3). The hospital then lowers its threshold to 2. Waiving one record
    leaves 2: under the ban's own rules that is below the line, so the ban is lifted."""
    for offset in (1, 2, 3):
        when = _no_show(patient, doctor, offset)
    rules.no_show_threshold = 2
    rules.save()
    waive_penalty(penalty=Penalty.objects.first(), by=hospital_admin, reason="住院证明", now=when)
    assert active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=when) is None


def test_the_ban_reason_and_rules_are_kept_on_the_ban(rules, doctor, patient):
    for offset in (1, 2, 3):
        _no_show(patient, doctor, offset)
    ban = BookingBan.objects.get()
    assert ban.rules_snapshot == {
        "late_cancel_counts": rules.late_cancel_counts,
        "no_show_threshold": rules.no_show_threshold,
        "no_show_window_days": rules.no_show_window_days,
        "ban_days": rules.ban_days,
    }


# --- who may waive ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [HospitalStaff.Role.FRONT_DESK, HospitalStaff.Role.SCHEDULER])
def test_only_the_hospital_admin_may_waive_a_penalty(rules, doctor, patient, role):
    for offset in (1, 2, 3):
        when = _no_show(patient, doctor, offset)
    staff = HospitalStaffFactory(hospital=doctor.hospital, role=role).user
    penalty = Penalty.objects.first()
    with pytest.raises(errors.NotStaff):
        waive_penalty(penalty=penalty, by=staff, reason="x", now=when)
    penalty.refresh_from_db()
    assert penalty.waived_at is None
    assert active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=when) is not None


def test_another_hospitals_admin_may_not_waive(rules, doctor, patient):
    _no_show(patient, doctor, 1)
    other = HospitalStaffFactory(role=HospitalStaff.Role.HOSPITAL_ADMIN).user
    with pytest.raises(errors.NotStaff):
        waive_penalty(penalty=Penalty.objects.get(), by=other, reason="x")


@pytest.mark.parametrize("who", ["hospital_admin", "superuser"])
def test_the_hospital_admin_or_a_superuser_waives(rules, doctor, patient, hospital_admin, who):
    _no_show(patient, doctor, 1)
    by = hospital_admin if who == "hospital_admin" else SuperUserFactory()
    penalty = waive_penalty(penalty=Penalty.objects.get(), by=by, reason="住院证明")
    assert penalty.waived_by == by
