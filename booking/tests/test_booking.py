"""Booking a place (FCFS): the happy path, the database's own guarantees, and every refusal code."""

import datetime
import itertools

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Patient
from accounts.tests.factories import PatientFactory
from booking import errors
from booking.models import Appointment, BookingBan
from booking.services import book_slot
from hospital.channels import Channel
from hospital.tests.factories import BookingRulesFactory, DepartmentFactory, DoctorFactory
from scheduling.models import AllocationPolicy, Slot
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def _book(patient, slot, **kwargs):
    return book_slot(user=patient.user, patient=patient, slot=slot, **kwargs)


# --- the database itself -------------------------------------------------------------------


def test_database_rejects_booked_above_capacity(slot):
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=slot.capacity + 1, online_booked=slot.capacity + 1)


def test_database_rejects_channel_booked_above_its_share(slot):
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(booked=1, window_booked=1)  # window share is 0 here


def test_database_rejects_second_active_appointment_for_patient_doctor_day(slot, patient):
    first = _book(patient, slot)
    duplicate = Appointment(
        **{
            f.attname: getattr(first, f.attname)
            for f in Appointment._meta.concrete_fields
            if f.name not in ("id", "order_no", "idempotency_key")
        }
    )
    duplicate.order_no = "X" + first.order_no[1:]
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        duplicate.save()
    assert "one_active" in str(caught.value)


def test_database_rejects_segment_longer_than_30_minutes(slot):
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(end_at=slot.start_at + datetime.timedelta(minutes=31))


# --- the happy path ------------------------------------------------------------------------


def test_booking_takes_a_place_and_waits_for_payment(slot, patient, rules):
    now = timezone.now()
    appointment = _book(patient, slot, now=now)
    slot.refresh_from_db()
    assert appointment.status == Appointment.Status.PENDING_PAYMENT
    assert appointment.payment_deadline == now + datetime.timedelta(minutes=rules.payment_timeout_minutes)
    assert appointment.fee_fen == 2000
    assert appointment.channel == Channel.ONLINE
    assert appointment.booked_by == patient.user
    assert (slot.booked, slot.online_booked) == (1, 1)
    assert appointment.rules_version == rules.version
    assert appointment.rules_snapshot["payment_timeout_minutes"] == rules.payment_timeout_minutes


def test_queue_numbers_and_estimated_times_follow_the_segment(slot):
    first = _book(PatientFactory(), slot)
    second = _book(PatientFactory(), slot)
    assert (first.queue_number, second.queue_number) == (1, 2)
    assert first.estimated_at == slot.start_at
    assert second.estimated_at == slot.start_at + datetime.timedelta(minutes=6)  # 30 min / 5 places


def test_later_slots_number_after_earlier_ones(rules, doctor):
    session = make_session(doctor=doctor, places=4, segments=3)
    third_slot = session.slots.order_by("start_at")[2]
    appointment = _book(PatientFactory(), third_slot)
    assert appointment.queue_number == 9


def test_a_freed_number_is_given_again(slot, user, patient):
    from booking.services import cancel_appointment

    first = _book(patient, slot)
    _book(PatientFactory(), slot)
    cancel_appointment(user=user, appointment=first)
    third = _book(PatientFactory(), slot)
    assert third.queue_number == 1


def test_free_registration_is_confirmed_at_once(rules, doctor, patient):
    slot = make_session(doctor=doctor, fee_fen=0).slots.get()
    appointment = _book(patient, slot)
    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.payment_deadline is None


def test_pay_at_desk_hospital_confirms_at_once(rules, slot, patient):
    rules.pay_at_desk = True
    rules.save()
    assert _book(patient, slot).status == Appointment.Status.CONFIRMED


def test_same_idempotency_key_returns_the_first_result(slot, patient):
    first = _book(patient, slot, idempotency_key="k-1")
    again = _book(patient, slot, idempotency_key="k-1")
    slot.refresh_from_db()
    assert again.pk == first.pk
    assert slot.booked == 1


def test_idempotency_keys_are_per_user(slot, patient):
    other = PatientFactory()
    a = _book(patient, slot, idempotency_key="same")
    b = _book(other, slot, idempotency_key="same")
    assert a.pk != b.pk


def test_department_override_rules_are_used(doctor, rules, patient):
    BookingRulesFactory(hospital=doctor.hospital, department=doctor.departments.first(), payment_timeout_minutes=25)
    slot = make_session(doctor=doctor).slots.get()
    now = timezone.now()
    appointment = _book(patient, slot, now=now)
    assert appointment.payment_deadline == now + datetime.timedelta(minutes=25)


# --- refusals, one per code ----------------------------------------------------------------


def test_before_release_time_is_not_released_yet(slot, patient, session):
    with pytest.raises(errors.NotReleasedYet) as caught:
        _book(patient, slot, now=session.release_at - datetime.timedelta(seconds=1))
    assert caught.value.code == "not_released_yet"
    assert "15:00" in caught.value.detail


def test_beyond_days_ahead_is_outside_window(rules, doctor, patient, session):
    rules.days_ahead = 2
    rules.save()
    with pytest.raises(errors.OutsideWindow) as caught:
        _book(patient, session.slots.get())
    assert caught.value.code == "outside_window"


def test_too_close_to_the_segment_is_booking_closed(slot, patient, rules):
    with pytest.raises(errors.BookingClosed):
        _book(patient, slot, now=slot.start_at - datetime.timedelta(minutes=rules.close_minutes_before_start - 1))


def test_past_the_day_before_cutoff_is_booking_closed(rules, slot, patient, session):
    rules.day_before_cutoff_time = datetime.time(20, 0)
    rules.save()
    evening_before = timezone.make_aware(
        datetime.datetime.combine(session.date - datetime.timedelta(days=1), datetime.time(20, 30))
    )
    with pytest.raises(errors.BookingClosed) as caught:
        _book(patient, slot, now=evening_before)
    assert caught.value.code == "booking_closed"


def test_full_slot_is_slot_full(slot):
    for _ in range(5):
        _book(PatientFactory(), slot)
    with pytest.raises(errors.SlotFull) as caught:
        _book(PatientFactory(), slot)
    assert caught.value.code == "slot_full"
    assert "params" not in caught.value.as_dict()  # a patient is not told about other channels


def test_same_patient_same_doctor_same_day_is_duplicate(rules, doctor, patient):
    session = make_session(doctor=doctor, segments=2)
    first_slot, second_slot = session.slots.order_by("start_at")
    _book(patient, first_slot)
    with pytest.raises(errors.DuplicateBooking) as caught:
        _book(patient, second_slot)
    assert caught.value.code == "duplicate_booking"


def test_same_person_under_another_account_is_duplicate(slot, patient):
    twin = PatientFactory(
        id_number=patient.id_number, birth_date=patient.birth_date, gender=patient.gender, name=patient.name
    )
    _book(patient, slot)
    with pytest.raises(errors.DuplicateBooking):
        _book(twin, slot)


def test_department_day_limit(rules, doctor, patient):
    rules.max_per_department_per_day = 1
    rules.save()
    department = doctor.departments.first()
    other_doctor = DoctorFactory(hospital=doctor.hospital, departments=[department])
    day = make_session(doctor=doctor).date
    _book(patient, make_session(doctor=doctor, date=day).slots.get())
    with pytest.raises(errors.LimitExceeded) as caught:
        _book(patient, make_session(doctor=other_doctor, date=day).slots.get())
    assert caught.value.code == "limit_exceeded"
    assert caught.value.params["limit"] == "department_day"


def test_hospital_day_limit(rules, doctor, patient):
    rules.max_per_hospital_per_day = 1
    rules.save()
    day = make_session(doctor=doctor).date
    _book(patient, make_session(doctor=doctor, date=day).slots.get())
    elsewhere = DoctorFactory(hospital=doctor.hospital, departments=[DepartmentFactory(hospital=doctor.hospital)])
    with pytest.raises(errors.LimitExceeded) as caught:
        _book(patient, make_session(doctor=elsewhere, date=day).slots.get())
    assert caught.value.params["limit"] == "hospital_day"


def test_active_bookings_limit(rules, doctor, patient):
    rules.max_active = 2
    rules.save()
    today = timezone.localdate()
    for offset in (2, 3):
        _book(patient, make_session(doctor=doctor, date=today + datetime.timedelta(days=offset)).slots.get())
    with pytest.raises(errors.LimitExceeded) as caught:
        _book(patient, make_session(doctor=doctor, date=today + datetime.timedelta(days=4)).slots.get())
    assert caught.value.params["limit"] == "active"


def test_monthly_limit_counts_visits_in_the_same_month(rules, doctor, patient):
    rules.max_per_month = 1
    rules.max_active = 9
    rules.save()
    today = timezone.localdate()
    days = [today + datetime.timedelta(days=offset) for offset in range(2, 8)]
    first, second = next((a, b) for a, b in itertools.pairwise(days) if a.month == b.month)
    _book(patient, make_session(doctor=doctor, date=first).slots.get())
    with pytest.raises(errors.LimitExceeded) as caught:
        _book(patient, make_session(doctor=doctor, date=second).slots.get())
    assert caught.value.params["limit"] == "month"


def test_banned_patient_is_told_until_when(slot, patient, doctor):
    now = timezone.now()
    ends = now + datetime.timedelta(days=30)
    BookingBan.objects.create(
        person_key=patient.person_key,
        patient=patient,
        hospital=doctor.hospital,
        starts_at=now,
        ends_at=ends,
        reason="x",
    )
    with pytest.raises(errors.PatientBanned) as caught:
        _book(patient, slot, now=now)
    assert caught.value.code == "patient_banned"
    assert timezone.localtime(ends).date().isoformat() in caught.value.detail


def test_someone_elses_patient_is_not_owner(slot, patient, outsider):
    with pytest.raises(errors.NotOwner) as caught:
        book_slot(user=outsider, patient=patient, slot=slot)
    assert caught.value.code == "not_owner"
    assert caught.value.status == 403


def test_patient_without_document_is_real_name_required(slot, user):
    nameless = Patient.objects.create(
        user=user, name="无证件", gender=Patient.Gender.FEMALE, birth_date=datetime.date(2024, 1, 1)
    )
    with pytest.raises(errors.RealNameRequired) as caught:
        _book(nameless, slot)
    assert caught.value.code == "real_name_required"


def test_lottery_session_takes_requests_not_bookings(rules, doctor, patient):
    slot = make_session(doctor=doctor, policy=AllocationPolicy.LOTTERY).slots.get()
    with pytest.raises(errors.RequestsOnly):
        _book(patient, slot)


def test_refusals_leave_no_trace(slot, patient, outsider):
    with pytest.raises(errors.NotOwner):
        book_slot(user=outsider, patient=patient, slot=slot)
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Appointment.objects.exists()
