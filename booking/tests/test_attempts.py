"""Booking attempts are counted in the cache (no SQL in the rush) and drained exactly once."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.tests.factories import PartnerFactory, PatientFactory
from booking import attempts, errors
from booking.attempts import AttemptCount, count_attempt, drain_counts, restore_counts
from booking.services import book_slot
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import HospitalStaffFactory

MINUTE = 29_000_000  # some minute since the epoch
AT = MINUTE * 60 + 5.0


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_counting_an_attempt_runs_no_sql():
    # No django_db mark: pytest-django refuses any database access in this test.
    count_attempt(schedule_id=7, won=False, now=AT)
    count_attempt(schedule_id=7, won=True, now=AT)
    assert drain_counts(now=AT) == [AttemptCount(schedule_id=7, minute=MINUTE, attempts=2, won=1)]


def test_drain_returns_the_counts_per_schedule_and_minute_once():
    for won in (False, False, True):
        count_attempt(schedule_id=7, won=won, now=AT)
    count_attempt(schedule_id=8, won=True, now=AT)
    count_attempt(schedule_id=7, won=False, now=AT + 60)
    drained = drain_counts(now=AT + 600)
    assert sorted(drained, key=lambda c: (c.schedule_id, c.minute)) == [
        AttemptCount(schedule_id=7, minute=MINUTE, attempts=3, won=1),
        AttemptCount(schedule_id=7, minute=MINUTE + 1, attempts=1, won=0),
        AttemptCount(schedule_id=8, minute=MINUTE, attempts=1, won=1),
    ]
    assert drain_counts(now=AT + 660) == []


def test_attempts_after_a_drain_are_kept_for_the_next_one():
    count_attempt(schedule_id=7, won=True, now=AT)
    assert drain_counts(now=AT + 1) == [AttemptCount(schedule_id=7, minute=MINUTE, attempts=1, won=1)]
    count_attempt(schedule_id=7, won=False, now=AT + 2)  # the same, still open minute
    assert drain_counts(now=AT + 3) == [AttemptCount(schedule_id=7, minute=MINUTE, attempts=1, won=0)]


def test_a_running_drain_keeps_a_second_one_out():
    count_attempt(schedule_id=7, won=True, now=AT)
    cache.add(attempts.DRAIN_LOCK, 1, 60)
    assert drain_counts(now=AT + 1) == []
    cache.delete(attempts.DRAIN_LOCK)
    assert len(drain_counts(now=AT + 1)) == 1


def test_restored_counts_are_drained_again():
    count_attempt(schedule_id=7, won=True, now=AT)
    drained = drain_counts(now=AT + 600)
    assert drain_counts(now=AT + 660) == []
    restore_counts(drained)  # the write that should have kept them failed
    assert drain_counts(now=AT + 720) == drained


@pytest.mark.django_db
def test_book_slot_counts_wins_and_full_slot_refusals(rules, session):
    slot = session.slots.get()
    for _place in range(session.slots.get().capacity):
        patient = PatientFactory()
        book_slot(user=patient.user, patient=patient, slot=slot)
    late = PatientFactory()
    with pytest.raises(errors.SlotFull):
        book_slot(user=late.user, patient=late, slot=slot)
    [count] = drain_counts()
    assert (count.schedule_id, count.attempts, count.won) == (session.pk, slot.capacity + 1, slot.capacity)


@pytest.mark.django_db
def test_other_refusals_and_staff_channels_are_not_counted(rules, session):
    front_desk = HospitalStaffFactory(hospital=session.doctor.hospital, role=HospitalStaff.Role.FRONT_DESK).user
    slot = session.slots.get()
    patient = PatientFactory()
    book_slot(user=patient.user, patient=patient, slot=slot)
    with pytest.raises(errors.BookingError) as caught:
        book_slot(user=patient.user, patient=patient, slot=slot)  # the same patient again: not a race for a place
    assert caught.value.code != "slot_full"
    other = PatientFactory()
    with pytest.raises(errors.BookingError):
        book_slot(user=front_desk, patient=other, slot=slot, channel=Channel.WINDOW)
    [count] = drain_counts()
    assert (count.attempts, count.won) == (1, 1)


def _fill_and_refuse(slot, late: int):
    for _place in range(slot.capacity):
        patient = PatientFactory()
        book_slot(user=patient.user, patient=patient, slot=slot)
    for _attempt in range(late):  # the first is refused by the database and marks the slot; the rest by the mark
        patient = PatientFactory()
        with pytest.raises(errors.SlotFull):
            book_slot(user=patient.user, patient=patient.pk, slot=slot.pk)


@pytest.mark.django_db
def test_refusals_on_the_sold_out_mark_are_counted_once_each(rules, session):
    slot = session.slots.get()
    _fill_and_refuse(slot, late=3)
    [count] = drain_counts()
    assert (count.attempts, count.won) == (slot.capacity + 3, slot.capacity)


@pytest.fixture
def on_redis(settings):
    redis = {"BACKEND": "config.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/15", "KEY_PREFIX": "t-att"}
    settings.CACHES = {"default": redis}
    cache.clear()
    yield cache
    cache.clear()


@pytest.mark.django_db
def test_on_redis_a_refusal_on_the_mark_is_read_and_counted_in_one_script_call(on_redis, rules, session, monkeypatch):
    slot = session.slots.get()
    _fill_and_refuse(slot, late=1)  # the counter of this minute exists now
    backend = type(cache._connections[cache._alias])
    calls = []
    real = backend.run_script

    def recording(self, source, keys, args):
        calls.append(source)
        return real(self, source, keys, args)

    monkeypatch.setattr(backend, "run_script", recording)
    monkeypatch.setattr(attempts, "count_attempt", lambda **kwargs: pytest.fail("counted a second time"))
    for _attempt in range(2):
        patient = PatientFactory()
        with pytest.raises(errors.SlotFull):
            book_slot(user=patient.user, patient=patient.pk, slot=slot.pk)
    assert calls == [attempts.MARK_AND_COUNT] * 2
    monkeypatch.undo()
    [count] = drain_counts()
    assert (count.attempts, count.won) == (slot.capacity + 3, slot.capacity)


@pytest.mark.django_db
def test_on_redis_a_minutes_first_refusal_on_the_mark_creates_and_registers_its_counter(on_redis, rules, session):
    slot = session.slots.get()
    _fill_and_refuse(slot, late=1)
    assert len(drain_counts()) == 1  # this minute's counters taken
    later = timezone.now() + datetime.timedelta(minutes=3)  # a minute with no counter yet
    patient = PatientFactory()
    with pytest.raises(errors.SlotFull):
        book_slot(user=patient.user, patient=patient.pk, slot=slot.pk, now=later)
    [count] = drain_counts(now=later.timestamp() + 600)
    assert (count.schedule_id, count.attempts, count.won) == (session.pk, 1, 0)


@pytest.mark.django_db
def test_partner_refusals_on_the_mark_are_not_counted(rules, session):
    slot = session.slots.get()
    _fill_and_refuse(slot, late=1)
    drain_counts()
    partner = PartnerFactory()
    for _attempt in range(2):  # the database refuses and marks the slot for the channel, then the mark does
        patient = PatientFactory(user=partner.user)
        with pytest.raises(errors.SlotFull):
            book_slot(user=partner.user, patient=patient, slot=slot, channel=Channel.PARTNER)
    assert drain_counts() == []
