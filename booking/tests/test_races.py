"""The release-time rush, for real: many threads, each with its own PostgreSQL connection."""

import functools
from collections import Counter

import pytest

from accounts.tests.factories import PatientFactory
from booking.models import Appointment
from booking.services import book_slot, cancel_appointment
from booking.tests.conftest import run_concurrently
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.tests.factories import make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _slot(places, **shares):
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **shares)
    return make_session(doctor=doctor, places=places).slots.get(), doctor


def _booker(patient, slot, **kwargs):
    return functools.partial(book_slot, user=patient.user, patient=patient, slot=slot, **kwargs)


def test_fifty_patients_race_for_five_places():
    slot, _doctor = _slot(5, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    patients = [PatientFactory() for _ in range(50)]
    outcomes = run_concurrently([_booker(p, slot) for p in patients])
    codes = Counter(o if isinstance(o, str) else "booked" for o in outcomes)
    assert codes == {"booked": 5, "slot_full": 45}
    slot.refresh_from_db()
    assert slot.booked == slot.online_booked == 5
    assert Appointment.objects.filter(slot=slot).count() == 5
    numbers = sorted(Appointment.objects.filter(slot=slot).values_list("queue_number", flat=True))
    assert numbers == [1, 2, 3, 4, 5]


def test_one_patient_pressing_twenty_times_books_once():
    slot, _doctor = _slot(5, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    patient = PatientFactory()
    outcomes = run_concurrently([_booker(patient, slot) for _ in range(20)])
    codes = Counter(o if isinstance(o, str) else "booked" for o in outcomes)
    assert codes == {"booked": 1, "duplicate_booking": 19}
    slot.refresh_from_db()
    assert slot.booked == 1
    assert Appointment.objects.filter(patient=patient).count() == 1


def test_twenty_retries_with_one_idempotency_key_return_one_order():
    slot, _doctor = _slot(5, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    patient = PatientFactory()
    outcomes = run_concurrently([_booker(patient, slot, idempotency_key="tap-1") for _ in range(20)])
    assert {o.pk for o in outcomes if isinstance(o, Appointment)} == {Appointment.objects.get(patient=patient).pk}
    assert all(isinstance(o, Appointment) for o in outcomes)
    slot.refresh_from_db()
    assert slot.booked == 1


def test_online_and_window_race_on_one_slot_never_exceed_either_share():
    slot, doctor = _slot(20, online_share=50, partner_share=0, window_share=50, clinic_share=0)
    desks = [HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.FRONT_DESK).user for _ in range(4)]
    online = [_booker(PatientFactory(), slot) for _ in range(28)]
    window = [
        functools.partial(book_slot, user=desks[i % 4], patient=PatientFactory(), slot=slot, channel=Channel.WINDOW)
        for i in range(28)
    ]
    calls = [call for pair in zip(online, window, strict=True) for call in pair]
    outcomes = run_concurrently(calls)
    assert not [o for o in outcomes if isinstance(o, str) and o != "slot_full"]
    slot.refresh_from_db()
    assert (slot.online_booked, slot.window_booked, slot.booked) == (10, 10, 20)
    by_channel = Counter(Appointment.objects.filter(slot=slot).values_list("channel", flat=True))
    assert by_channel == {Channel.ONLINE: 10, Channel.WINDOW: 10}


def test_cancellations_racing_bookings_keep_the_count_exact():
    slot, _doctor = _slot(10, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    holders = [PatientFactory() for _ in range(10)]
    held = [book_slot(user=p.user, patient=p, slot=slot) for p in holders]
    newcomers = [PatientFactory() for _ in range(30)]
    calls = [functools.partial(cancel_appointment, user=a.patient.user, appointment=a) for a in held]
    calls += [_booker(p, slot) for p in newcomers]
    outcomes = run_concurrently(calls)
    assert not [o for o in outcomes if isinstance(o, str) and o.startswith("crash")]
    slot.refresh_from_db()
    holding = Appointment.objects.filter(slot=slot, status__in=Appointment.PLACE_HOLDING).count()
    assert slot.booked == slot.online_booked == holding <= 10
