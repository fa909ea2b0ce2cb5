"""Lottery and priority sessions: the request window, a reproducible draw, the priority order."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors
from booking.allocation import Lottery, draw_schedule, priority_score, request_booking, verify_draw, withdraw_request
from booking.models import Appointment, BookingBan, BookingRequest
from booking.services import join_waitlist
from booking.tests.conftest import side_effects
from scheduling.models import AllocationPolicy
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def lottery(rules, doctor):
    return make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)


def _request(session, patient=None, **kwargs):
    patient = patient or PatientFactory()
    return request_booking(user=patient.user, patient=patient, schedule=session, now=session.release_at, **kwargs)


def _closed(session):
    return session.request_closes_at


def test_requests_only_inside_the_window(lottery, patient, user):
    with pytest.raises(errors.RequestWindowClosed) as caught:
        request_booking(user=user, patient=patient, schedule=lottery, now=lottery.release_at - datetime.timedelta(1))
    assert caught.value.code == "request_window_closed"
    with pytest.raises(errors.RequestWindowClosed):
        request_booking(user=user, patient=patient, schedule=lottery, now=_closed(lottery))
    assert _request(lottery, patient).status == BookingRequest.Status.PENDING


def test_one_request_per_person(lottery, patient):
    _request(lottery, patient)
    with pytest.raises(errors.DuplicateRequest):
        _request(lottery, patient)


def test_fcfs_session_takes_no_requests(session, patient, user):
    with pytest.raises(errors.RequestWindowClosed):
        request_booking(user=user, patient=patient, schedule=session, now=session.release_at)


def test_draw_gives_the_places_to_winners_and_tells_the_rest(lottery, django_capture_on_commit_callbacks):
    requests = [_request(lottery) for _ in range(8)]
    with django_capture_on_commit_callbacks() as callbacks:
        result = draw_schedule(schedule=lottery, now=_closed(lottery))
    assert len(result.winners) == 3
    assert len(result.losers) == 5
    assert len(side_effects(callbacks)) == 11  # one SMS each, and each winner's 到号提醒 ended (booking.receivers)
    won = BookingRequest.objects.filter(status=BookingRequest.Status.WON)
    assert {r.pk for r in won} == set(result.winners)
    assert all(r.appointment.status == Appointment.Status.PENDING_PAYMENT for r in won)
    slot = lottery.slots.get()
    assert slot.booked == 3
    lottery.refresh_from_db()
    assert lottery.draw_seed == result.seed
    assert verify_draw(schedule=lottery).ok
    assert {r.draw_rank for r in BookingRequest.objects.filter(pk__in=[r.pk for r in requests])} == set(range(1, 9))


def test_draw_before_the_window_closes_or_twice_is_refused(lottery):
    _request(lottery)
    with pytest.raises(errors.DrawNotDue):
        draw_schedule(schedule=lottery, now=_closed(lottery) - datetime.timedelta(seconds=1))
    draw_schedule(schedule=lottery, now=_closed(lottery))
    with pytest.raises(errors.DrawNotDue):
        draw_schedule(schedule=lottery, now=_closed(lottery))


def test_same_seed_same_winners_different_seed_different_winners():
    class R:
        def __init__(self, pk):
            self.pk = pk

    pool = [R(pk) for pk in range(1, 201)]
    first = [r.pk for r in Lottery().order(pool, 12345)[:10]]
    again = [r.pk for r in Lottery().order(list(reversed(pool)), 12345)[:10]]
    other = [r.pk for r in Lottery().order(pool, 54321)[:10]]
    assert first == again
    assert first != other


def test_verify_draw_detects_a_tampered_outcome(lottery):
    for _ in range(6):
        _request(lottery)
    draw_schedule(schedule=lottery, now=_closed(lottery))
    loser = BookingRequest.objects.filter(status=BookingRequest.Status.LOST).first()
    winner = BookingRequest.objects.filter(status=BookingRequest.Status.WON).first()
    BookingRequest.objects.filter(pk=loser.pk).update(status=BookingRequest.Status.WON)
    BookingRequest.objects.filter(pk=winner.pk).update(status=BookingRequest.Status.LOST)
    assert not verify_draw(schedule=lottery).ok


def test_ineligible_requests_are_passed_over(lottery, doctor):
    requests = [_request(lottery) for _ in range(4)]
    banned = requests[0].patient
    now = _closed(lottery)
    BookingBan.objects.create(
        person_key=banned.person_key,
        patient=banned,
        hospital=doctor.hospital,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(days=9),
        reason="x",
    )
    result = draw_schedule(schedule=lottery, now=now)
    assert requests[0].pk in result.ineligible
    assert len(result.winners) == 3
    assert verify_draw(schedule=lottery).ok


def test_withdrawn_requests_are_not_drawn(lottery, patient, user):
    request = _request(lottery, patient)
    withdraw_request(user=user, request=request)
    result = draw_schedule(schedule=lottery, now=_closed(lottery))
    assert request.pk not in result.winners + result.losers


def test_losers_may_join_the_waitlist(lottery):
    requests = [_request(lottery) for _ in range(4)]
    result = draw_schedule(schedule=lottery, now=_closed(lottery))
    loser = BookingRequest.objects.get(pk=result.losers[0]).patient
    assert any(r.patient == loser for r in requests)
    entry = join_waitlist(user=loser.user, patient=loser, schedule=lottery, now=_closed(lottery))
    assert entry.pk


def test_priority_orders_by_urgency_age_and_waiting(rules, doctor):
    session = make_session(doctor=doctor, places=2, policy=AllocationPolicy.PRIORITY)
    visit = session.date
    adult = PatientFactory(birth_date=visit.replace(year=visit.year - 40))
    urgent_adult = PatientFactory(birth_date=visit.replace(year=visit.year - 40) - datetime.timedelta(days=1))
    elderly = PatientFactory(birth_date=visit.replace(year=visit.year - 82))
    plain = _request(session, adult)
    urgent = _request(session, urgent_adult, urgency=BookingRequest.Urgency.URGENT)
    old = _request(session, elderly)
    now = _closed(session)
    assert priority_score(request=urgent, now=now) == 40
    assert priority_score(request=old, now=now) == 30
    assert priority_score(request=plain, now=now) == 0
    result = draw_schedule(schedule=session, now=now)
    assert result.winners == [urgent.pk, old.pk]
    assert result.losers == [plain.pk]
    assert verify_draw(schedule=session).ok


def test_priority_counts_days_waited_after_an_earlier_loss(rules, doctor):
    earlier = make_session(doctor=doctor, places=1, policy=AllocationPolicy.LOTTERY)
    patient = PatientFactory(birth_date=earlier.date.replace(year=earlier.date.year - 30))
    lost = _request(earlier, patient)
    BookingRequest.objects.filter(pk=lost.pk).update(
        status=BookingRequest.Status.LOST, created_at=timezone.now() - datetime.timedelta(days=12)
    )
    later = make_session(
        doctor=doctor, places=1, policy=AllocationPolicy.PRIORITY, date=earlier.date + datetime.timedelta(days=1)
    )
    request = _request(later, patient)
    assert priority_score(request=request, now=timezone.now()) == 12


def test_priority_ties_fall_back_to_the_seeded_draw(rules, doctor):
    session = make_session(doctor=doctor, places=1, policy=AllocationPolicy.PRIORITY)
    visit = session.date
    requests = [_request(session, PatientFactory(birth_date=visit.replace(year=visit.year - 30 - i))) for i in range(6)]
    result = draw_schedule(schedule=session, now=_closed(session), seed=7)
    expected = Lottery().order(sorted(requests, key=lambda r: r.pk), 7)[0].pk
    assert result.winners == [expected]
