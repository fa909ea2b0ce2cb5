"""号源渠道: shares, per-channel fullness, reserves released to online, places returning home."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors
from booking.services import add_places, book_slot, cancel_appointment, join_waitlist, release_reserves
from hospital.channels import Channel, split_capacity
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.services import local_datetime
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db
DEFAULT_SHARES = {Channel.ONLINE: 70, Channel.PARTNER: 10, Channel.WINDOW: 15, Channel.CLINIC: 5}


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (1, {"online": 1, "partner": 0, "window": 0, "clinic": 0}),
        (2, {"online": 2, "partner": 0, "window": 0, "clinic": 0}),
        (3, {"online": 2, "partner": 0, "window": 1, "clinic": 0}),
        (7, {"online": 5, "partner": 1, "window": 1, "clinic": 0}),
        (30, {"online": 21, "partner": 3, "window": 5, "clinic": 1}),
    ],
)
def test_default_shares_round_to_the_capacity(capacity, expected):
    parts = split_capacity(capacity, DEFAULT_SHARES)
    assert parts == expected
    assert sum(parts.values()) == capacity
    for channel, share in DEFAULT_SHARES.items():
        assert abs(parts[channel] - capacity * share / 100) < 1


def test_every_capacity_splits_exactly_with_any_shares():
    for capacity in range(0, 101):
        for shares in ({"online": 100}, {"online": 33, "partner": 33, "window": 34}, DEFAULT_SHARES):
            assert sum(split_capacity(capacity, shares).values()) == capacity


@pytest.fixture
def hospital_rules():
    doctor = DoctorFactory(registration_fee_fen=1000)
    return BookingRulesFactory(
        hospital=doctor.hospital, online_share=50, partner_share=10, window_share=30, clinic_share=10
    ), doctor


@pytest.fixture
def mixed_slot(hospital_rules):
    _rules, doctor = hospital_rules
    return make_session(doctor=doctor, places=10).slots.get()


@pytest.fixture
def desk(hospital_rules):
    return HospitalStaffFactory(hospital=hospital_rules[1].hospital, role="front_desk").user


def test_slot_is_created_with_the_hospitals_shares(mixed_slot):
    assert (mixed_slot.online_capacity, mixed_slot.partner_capacity) == (5, 1)
    assert (mixed_slot.window_capacity, mixed_slot.clinic_capacity) == (3, 1)


def test_full_window_is_full_even_with_online_room(mixed_slot, desk):
    for _ in range(3):
        book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    with pytest.raises(errors.SlotFull) as caught:
        book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    assert caught.value.params["channel"] == str(Channel.WINDOW.label)  # staff are told which channel
    mixed_slot.refresh_from_db()
    assert (mixed_slot.online_booked, mixed_slot.window_booked, mixed_slot.booked) == (0, 3, 3)


def test_patients_cannot_use_the_window_channel(mixed_slot):
    patient = PatientFactory()
    with pytest.raises(errors.NotStaff):
        book_slot(user=patient.user, patient=patient, slot=mixed_slot, channel=Channel.WINDOW)


def test_partner_books_only_its_own_patients(mixed_slot):
    from accounts.tests.factories import PartnerFactory

    partner = PartnerFactory()
    theirs = PatientFactory(user=partner.user)
    appointment = book_slot(user=partner.user, patient=theirs, slot=mixed_slot, channel=Channel.PARTNER)
    assert (appointment.channel, appointment.partner) == (Channel.PARTNER, partner)
    with pytest.raises(errors.NotOwner):
        book_slot(user=partner.user, patient=PatientFactory(), slot=mixed_slot, channel=Channel.PARTNER)


def test_a_patient_cannot_pose_as_a_partner(mixed_slot):
    patient = PatientFactory()
    with pytest.raises(errors.NotOwner):
        book_slot(user=patient.user, patient=patient, slot=mixed_slot, channel=Channel.PARTNER)


def _reserve_moment(mixed_slot, rules):
    return local_datetime(
        mixed_slot.schedule.date - datetime.timedelta(days=rules.reserve_release_days_before),
        rules.reserve_release_time,
    )


def test_release_reserves_moves_unused_window_and_clinic_places_at_their_time(hospital_rules, mixed_slot, desk):
    rules, _doctor = hospital_rules
    book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    moment = _reserve_moment(mixed_slot, rules)
    partner_moment = local_datetime(
        mixed_slot.schedule.date - datetime.timedelta(days=rules.partner_cutoff_days_before), rules.partner_cutoff_time
    )
    assert release_reserves(now=partner_moment - datetime.timedelta(seconds=1)) == 0
    assert release_reserves(now=moment - datetime.timedelta(seconds=1)) == 1  # the partner's place, at 18:00
    mixed_slot.refresh_from_db()
    assert (mixed_slot.partner_capacity, mixed_slot.window_capacity) == (0, 3)
    assert release_reserves(now=moment) == 3  # 2 window + 1 clinic
    mixed_slot.refresh_from_db()
    assert (mixed_slot.window_capacity, mixed_slot.window_booked) == (1, 1)
    assert mixed_slot.clinic_capacity == 0
    assert mixed_slot.online_capacity == 5 + 1 + 3
    assert mixed_slot.capacity == 10
    assert release_reserves(now=moment + datetime.timedelta(hours=1)) == 0  # twice moves nothing twice


def test_freed_window_place_returns_to_window_before_release(hospital_rules, mixed_slot, desk):
    appointment = book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    cancel_appointment(user=desk, appointment=appointment)
    mixed_slot.refresh_from_db()
    assert (mixed_slot.window_capacity, mixed_slot.window_booked, mixed_slot.online_capacity) == (3, 0, 5)


def test_freed_window_place_returns_to_online_after_release(hospital_rules, mixed_slot, desk):
    rules, _doctor = hospital_rules
    appointment = book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    moment = _reserve_moment(mixed_slot, rules)
    release_reserves(now=moment)
    cancel_appointment(user=desk, appointment=appointment, now=moment)
    mixed_slot.refresh_from_db()
    assert (mixed_slot.window_capacity, mixed_slot.window_booked) == (0, 0)
    assert mixed_slot.online_capacity == 10
    assert mixed_slot.booked == 0


def test_released_places_go_to_the_waitlist(hospital_rules, mixed_slot):
    rules, _doctor = hospital_rules
    for _ in range(5):
        patient = PatientFactory()
        book_slot(user=patient.user, patient=patient, slot=mixed_slot)
    waiting = PatientFactory()
    join_waitlist(user=waiting.user, patient=waiting, schedule=mixed_slot.schedule)
    release_reserves(now=_reserve_moment(mixed_slot, rules))
    assert waiting.appointments.count() == 1


def test_add_places_to_a_named_channel(mixed_slot, desk):
    add_places(slot=mixed_slot, places=2, channel=Channel.CLINIC, reason="复诊加号", by=desk)
    mixed_slot.refresh_from_db()
    assert (mixed_slot.capacity, mixed_slot.clinic_capacity, mixed_slot.online_capacity) == (12, 3, 5)


def test_release_covers_only_the_horizon(hospital_rules):
    _rules, doctor = hospital_rules
    far = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=5)).slots.get()
    release_reserves(now=timezone.now())
    far.refresh_from_db()
    assert far.reserves_released_at is None


def test_patients_see_online_places_and_staff_see_every_channel(mixed_slot, desk):
    from scheduling.selectors import slots_for_patients, slots_for_staff

    book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    patient_view = slots_for_patients(schedule=mixed_slot.schedule).get()
    staff_view = slots_for_staff(schedule=mixed_slot.schedule).get()
    assert patient_view.places_left == 5
    assert (staff_view.online_left, staff_view.window_left, staff_view.places_left) == (5, 2, 9)


def test_after_release_the_window_draws_on_the_online_pool(hospital_rules, mixed_slot, desk):
    rules, _doctor = hospital_rules
    moment = _reserve_moment(mixed_slot, rules)
    for _ in range(3):
        book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW, now=moment)
    release_reserves(now=moment)
    on_the_day = mixed_slot.start_at - datetime.timedelta(minutes=20)
    walk_in = book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW, now=on_the_day)
    assert walk_in.channel == Channel.WINDOW
    mixed_slot.refresh_from_db()
    assert (mixed_slot.window_capacity, mixed_slot.window_booked) == (4, 4)
    assert mixed_slot.online_capacity == 5 + 1 + 1 - 1  # its share, clinic's and partner's unused places, one lent
    cancel_appointment(user=desk, appointment=walk_in, now=on_the_day)
    mixed_slot.refresh_from_db()
    assert (mixed_slot.window_capacity, mixed_slot.online_capacity) == (3, 7)  # the place goes back online


def test_before_release_a_full_window_does_not_borrow(mixed_slot, desk):
    for _ in range(3):
        book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
    with pytest.raises(errors.SlotFull):
        book_slot(user=desk, patient=PatientFactory(), slot=mixed_slot, channel=Channel.WINDOW)
