"""Issue 16, "Booking: idempotency and actors": keys bound to their request, partners kept apart,
staff refused for a deactivated 就诊人, ownership checked before any lock, constraints told apart by name."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import PartnerFactory, PatientFactory, UserFactory
from booking import errors
from booking.models import Appointment
from booking.places import violated_constraint
from booking.services import add_places, book_slot, cancel_appointment, check_in
from booking.tests.conftest import ALL_ONLINE
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.models import Slot
from scheduling.tests.factories import make_session

MIXED = {"online_share": 40, "partner_share": 20, "window_share": 20, "clinic_share": 20}


@pytest.fixture
def mixed_slot(db):
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **MIXED)
    return make_session(doctor=doctor, places=10).slots.get()


def _second_slot(slot):
    return make_session(doctor=DoctorFactory(hospital=slot.schedule.doctor.hospital), places=5).slots.get()


# --- a key is bound to its request ---------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_and_same_request_returns_the_first_order(slot, patient):
    first = book_slot(user=patient.user, patient=patient, slot=slot, idempotency_key="k-1")
    again = book_slot(user=patient.user, patient=patient, slot=slot, idempotency_key="k-1")
    assert again.pk == first.pk
    assert first.idempotency_body and len(first.idempotency_body) == 64


@pytest.mark.django_db
def test_same_key_for_another_patient_is_refused_not_answered_with_the_first_order(slot, patient):
    book_slot(user=patient.user, patient=patient, slot=slot, idempotency_key="k-1")
    child = PatientFactory(user=patient.user)
    with pytest.raises(errors.IdempotencyKeyReused) as caught:
        book_slot(user=patient.user, patient=child, slot=slot, idempotency_key="k-1")
    assert (caught.value.code, caught.value.status) == ("idempotency_key_reused", 422)
    assert not Appointment.objects.filter(patient=child).exists()


@pytest.mark.django_db
def test_same_key_for_another_slot_is_refused(slot, patient):
    book_slot(user=patient.user, patient=patient, slot=slot, idempotency_key="k-1")
    with pytest.raises(errors.IdempotencyKeyReused):
        book_slot(user=patient.user, patient=patient, slot=_second_slot(slot), idempotency_key="k-1")
    assert Appointment.objects.filter(booked_by=patient.user).count() == 1


@pytest.mark.django_db
def test_same_key_in_another_channel_is_refused(mixed_slot):
    desk = HospitalStaffFactory(hospital=mixed_slot.schedule.doctor.hospital).user
    patient = PatientFactory()
    book_slot(user=desk, patient=patient, slot=mixed_slot, channel=Channel.WINDOW, idempotency_key="desk-1")
    with pytest.raises(errors.IdempotencyKeyReused):
        book_slot(user=desk, patient=patient, slot=mixed_slot, channel=Channel.CLINIC, idempotency_key="desk-1")


@pytest.mark.django_db
def test_a_retry_that_lost_the_race_is_checked_against_the_original_body_too(slot, patient, monkeypatch):
    """The replay found only at the insert (the key's unique constraint) is held to the same rule."""
    from booking import services

    book_slot(user=patient.user, patient=patient, slot=slot, idempotency_key="k-1")
    child = PatientFactory(user=patient.user)
    # Hide the first order from both look-ups before the insert, so only the constraint can catch it.
    monkeypatch.setattr(services, "_replayed", lambda **kwargs: False)
    real_original = services._original_for_key
    calls = []

    def original_after_the_insert(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real_original(**kwargs)

    monkeypatch.setattr(services, "_original_for_key", original_after_the_insert)
    with pytest.raises(errors.IdempotencyKeyReused):
        book_slot(user=patient.user, patient=child, slot=_second_slot(slot), idempotency_key="k-1")
    assert not Appointment.objects.filter(patient=child).exists()


# --- partners' keys ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_partners_with_the_same_key_each_get_their_own_order(mixed_slot):
    orders = []
    for _ in range(2):
        partner = PartnerFactory()
        theirs = PatientFactory(user=partner.user)
        orders.append(
            (
                partner,
                book_slot(
                    user=partner.user, patient=theirs, slot=mixed_slot, channel=Channel.PARTNER, idempotency_key="p-1"
                ),
            )
        )
    (first_partner, first), (second_partner, second) = orders
    assert first.pk != second.pk
    assert (first.partner, second.partner) == (first_partner, second_partner)
    replay = book_slot(
        user=first_partner.user, patient=first.patient, slot=mixed_slot, channel=Channel.PARTNER, idempotency_key="p-1"
    )
    assert replay.pk == first.pk


@pytest.mark.django_db
def test_a_partners_key_is_unique_per_partner_in_the_database(mixed_slot):
    partner = PartnerFactory()
    first = book_slot(
        user=partner.user,
        patient=PatientFactory(user=partner.user),
        slot=mixed_slot,
        channel=Channel.PARTNER,
        idempotency_key="p-1",
    )
    copy = Appointment(
        **{
            f.attname: getattr(first, f.attname)
            for f in Appointment._meta.concrete_fields
            if f.name not in ("id", "order_no", "booked_by", "status")
        }
    )
    copy.order_no, copy.booked_by, copy.status = "X" + first.order_no[1:], UserFactory(), Appointment.Status.CANCELLED
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        copy.save()
    assert violated_constraint(caught.value) == "booking_appointment_idempotency_key_per_partner"


# --- constraints are told apart by name ----------------------------------------------------------


@pytest.mark.django_db
def test_violated_constraint_names_the_constraint_from_the_driver(slot, patient):
    first = book_slot(user=patient.user, patient=patient, slot=slot)
    duplicate = Appointment(
        **{f.attname: getattr(first, f.attname) for f in Appointment._meta.concrete_fields if f.name != "id"}
    )
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        duplicate.save()
    assert violated_constraint(caught.value) in (
        "booking_appointment_order_no_key",
        "booking_appointment_one_active_per_patient_doctor_day",
        "booking_appointment_one_active_per_person_doctor_day",
    )


@pytest.mark.django_db
def test_an_order_number_collision_draws_a_new_number(slot, monkeypatch):
    from booking import places

    taken = book_slot(user=(p := PatientFactory()).user, patient=p, slot=slot).order_no
    numbers = iter([taken, "20990101000000" + "1" * 10])
    monkeypatch.setattr(places, "new_order_no", lambda now: next(numbers))
    other = PatientFactory()
    appointment = book_slot(user=other.user, patient=other, slot=slot)
    assert appointment.order_no == "20990101000000" + "1" * 10


@pytest.mark.django_db
def test_the_same_person_booked_twice_at_the_insert_is_a_duplicate_booking(slot, patient, monkeypatch):
    """The person checks are skipped, so only the partial unique constraint can refuse the second order."""
    from booking import eligibility

    book_slot(user=patient.user, patient=patient, slot=slot)
    monkeypatch.setattr(eligibility, "check_person", lambda **kwargs: None)
    with pytest.raises(errors.DuplicateBooking):
        book_slot(user=patient.user, patient=patient, slot=slot)
    slot.refresh_from_db()
    assert slot.booked == 1


# --- staff and a deactivated 就诊人 --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("channel", [Channel.WINDOW, Channel.CLINIC])
def test_staff_cannot_book_for_a_deactivated_patient(mixed_slot, channel):
    desk = HospitalStaffFactory(hospital=mixed_slot.schedule.doctor.hospital).user
    patient = PatientFactory(is_active=False)
    with pytest.raises(errors.PatientInactive):
        book_slot(user=desk, patient=patient, slot=mixed_slot, channel=channel)
    mixed_slot.refresh_from_db()
    assert mixed_slot.booked == 0


# --- ownership before any row lock ---------------------------------------------------------------


def _hold_lock_while(lock_rows, call):
    """Hold row locks in one thread while `call` runs in another; return (call's outcome, finished while held)."""
    locked, release = threading.Event(), threading.Event()
    outcome = {}

    def holder():
        try:
            with transaction.atomic():
                lock_rows()
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    def stranger():
        try:
            outcome["result"] = call()
        except errors.BookingError as exc:
            outcome["result"] = exc.code
        finally:
            connection.close()

    holder_thread = threading.Thread(target=holder)
    holder_thread.start()
    assert locked.wait(10)
    stranger_thread = threading.Thread(target=stranger)
    stranger_thread.start()
    stranger_thread.join(timeout=5)
    finished_while_held = not stranger_thread.is_alive()
    release.set()
    holder_thread.join(timeout=20)
    stranger_thread.join(timeout=20)
    return outcome.get("result"), finished_while_held


def _booked_slot():
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    slot = make_session(doctor=doctor, places=5).slots.get()
    patient = PatientFactory()
    return slot, book_slot(user=patient.user, patient=patient, slot=slot)


def _lock_slot(slot):
    return lambda: list(Slot.objects.select_for_update().filter(pk=slot.pk))


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_strangers_cancel_is_refused_without_waiting_for_the_slot_lock():
    slot, appointment = _booked_slot()
    result, finished_while_held = _hold_lock_while(
        _lock_slot(slot), lambda: cancel_appointment(user=UserFactory(), appointment=appointment)
    )
    assert result == "not_owner"
    assert finished_while_held, "the stranger's cancel queued on the slot lock"
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.PENDING_PAYMENT


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_strangers_check_in_is_refused_without_waiting_for_the_appointment_lock():
    _slot, appointment = _booked_slot()
    result, finished_while_held = _hold_lock_while(
        lambda: list(Appointment.objects.select_for_update().filter(pk=appointment.pk)),
        lambda: check_in(appointment=appointment, by=UserFactory()),
    )
    assert (result, finished_while_held) == ("not_owner", True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_add_places_by_another_hospitals_staff_is_refused_without_waiting_for_the_slot_lock():
    slot, _appointment = _booked_slot()
    stranger = HospitalStaffFactory(role=HospitalStaff.Role.HOSPITAL_ADMIN).user
    result, finished_while_held = _hold_lock_while(
        _lock_slot(slot),
        lambda: add_places(slot=slot, places=1, channel=Channel.ONLINE, reason="x", by=stranger),
    )
    assert (result, finished_while_held) == ("not_staff", True)
