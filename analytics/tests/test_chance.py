"""Booking-success probability: exact lottery chances, the FCFS release-minute share, priority bands,
and the patient's view of a doctor's history (API)."""

import datetime
from fractions import Fraction

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.tests.factories import PatientFactory
from analytics import selectors, services
from analytics.models import AttemptMinute
from analytics.tasks import BEAT_SCHEDULE, flush_attempt_counts_task
from analytics.templatetags.analytics_chance import doctor_chance
from booking import errors
from booking.allocation import draw_schedule, request_booking
from booking.management.commands.setup_periodic_tasks import declared_schedule
from booking.models import BookingRequest
from booking.services import book_slot
from hospital.tests.factories import DoctorFactory
from scheduling.models import AllocationPolicy
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def test_hypergeometric_pmf_is_exact_and_sums_to_one():
    pmf = [selectors.hypergeometric_pmf(population=20, marked=4, draws=5, hits=k) for k in range(6)]
    assert sum(pmf) == 1
    assert pmf[0] == Fraction(16 * 15 * 14 * 13 * 12, 20 * 19 * 18 * 17 * 16)


@pytest.mark.parametrize(
    ("entries", "places", "mine", "chance"),
    [(8, 3, 1, Fraction(3, 8)), (5, 10, 1, Fraction(1)), (10, 2, 2, 1 - Fraction(8 * 7, 10 * 9)), (0, 3, 1, 1)],
)
def test_lottery_chance(entries, places, mine, chance):
    assert selectors.lottery_chance(entries=entries, places=places, mine=mine) == chance


def _enter(session, *, urgency=BookingRequest.Urgency.ROUTINE):
    patient = PatientFactory()
    return request_booking(
        user=patient.user, patient=patient, schedule=session, now=session.release_at, urgency=urgency
    )


def test_a_lottery_entrys_chance_per_channel_before_and_after_the_draw(rules, doctor):
    lottery = make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)
    for _entry in range(8):
        _enter(lottery)
    [online] = selectors.schedule_lottery_chances(schedule=lottery)
    assert (online.channel, online.entries, online.places, online.chance) == ("online", 8, 3, Fraction(3, 8))
    draw_schedule(schedule=lottery, now=lottery.request_closes_at)
    lottery.refresh_from_db()
    [drawn] = selectors.schedule_lottery_chances(schedule=lottery)
    assert (drawn.entries, drawn.places, drawn.chance) == (8, 3, Fraction(3, 8))  # the places the draw had


def test_an_open_lottery_shows_a_new_entrys_exact_chance(rules, doctor):
    lottery = make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)
    for _entry in range(5):
        _enter(lottery)
    chance = selectors.historical_chance(doctor_id=doctor.pk, now=lottery.release_at + datetime.timedelta(hours=1))
    [open_lottery] = chance["open_lotteries"]
    assert (open_lottery["schedule_id"], open_lottery["entries"], open_lottery["places"]) == (lottery.pk, 5, 3)
    assert open_lottery["chance"] == 3 / 6  # joining as the sixth entry
    closed = selectors.historical_chance(doctor_id=doctor.pk, now=lottery.request_closes_at)
    assert closed["open_lotteries"] == []


def test_historical_chance_of_a_lottery_doctor(rules, doctor):
    lottery = make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)
    for _entry in range(8):
        _enter(lottery)
    draw_schedule(schedule=lottery, now=lottery.request_closes_at)
    chance = selectors.historical_chance(doctor_id=doctor.pk, now=lottery.request_closes_at)
    assert chance["policy"] == "lottery"
    assert chance["chance"] == pytest.approx(3 / 8)
    assert chance["sessions"] == 1
    assert chance["by_policy"]["lottery"] == {"chance": 3 / 8, "won": 3, "entries": 8, "sessions": 1}


def test_historical_chance_of_a_priority_doctor_by_score_band(rules, doctor):
    session = make_session(doctor=doctor, places=2, policy=AllocationPolicy.PRIORITY)
    urgent = [_enter(session, urgency=BookingRequest.Urgency.URGENT) for _i in range(2)]
    routine = [_enter(session) for _i in range(3)]
    draw_schedule(schedule=session, now=session.request_closes_at)
    assert {r.pk for r in BookingRequest.objects.filter(status="won")} == {r.pk for r in urgent}
    chance = selectors.historical_chance(doctor_id=doctor.pk, now=session.request_closes_at)
    priority = chance["by_policy"]["priority"]
    assert (priority["won"], priority["entries"], chance["chance"]) == (2, 5, pytest.approx(2 / 5))
    expected = {}
    for request in BookingRequest.objects.filter(pk__in=[r.pk for r in urgent + routine]):
        low, high = next(
            (lo, hi)
            for lo, hi in selectors.PRIORITY_BANDS
            if request.score >= lo and (hi is None or request.score <= hi)
        )
        band = expected.setdefault(f"{low}+" if high is None else f"{low}-{high}", {"won": 0, "entries": 0})
        band["entries"] += 1
        band["won"] += request.status == "won"
    bands = {band["band"]: band for band in priority["bands"]}
    for name, counts in expected.items():
        assert (bands[name]["won"], bands[name]["entries"]) == (counts["won"], counts["entries"])
        assert bands[name]["chance"] == counts["won"] / counts["entries"]
    assert sum(band["entries"] for band in priority["bands"]) == 5


def test_fcfs_release_minute_share_comes_from_the_drained_counters(rules, doctor):
    session = make_session(doctor=doctor, places=2)
    slot = session.slots.get()
    rush = session.release_at + datetime.timedelta(seconds=20)
    for _attempt in range(2):
        patient = PatientFactory()
        book_slot(user=patient.user, patient=patient, slot=slot, now=rush)
    for _attempt in range(3):
        patient = PatientFactory()
        with pytest.raises(errors.SlotFull):
            book_slot(user=patient.user, patient=patient, slot=slot, now=rush)
    later = PatientFactory()  # an hour on: not the release minute
    with pytest.raises(errors.SlotFull):
        book_slot(user=later.user, patient=later, slot=slot, now=session.release_at + datetime.timedelta(hours=1))
    assert services.flush_attempt_counts(now=session.release_at + datetime.timedelta(hours=2)) == 2
    assert AttemptMinute.objects.count() == 2
    assert selectors.fcfs_release_share(schedule=session) == {"attempts": 5, "won": 2, "chance": 2 / 5}
    chance = selectors.historical_chance(doctor_id=doctor.pk, now=session.release_at + datetime.timedelta(days=1))
    assert (chance["policy"], chance["chance"], chance["sessions"]) == ("fcfs", 2 / 5, 1)
    assert chance["by_policy"]["fcfs"]["attempts"] == 5


def test_flushing_twice_adds_only_new_attempts(rules, doctor):
    session = make_session(doctor=doctor, places=1)
    slot = session.slots.get()
    first = PatientFactory()
    book_slot(user=first.user, patient=first, slot=slot, now=session.release_at)
    services.flush_attempt_counts(now=session.release_at + datetime.timedelta(seconds=30))
    second = PatientFactory()
    with pytest.raises(errors.SlotFull):
        book_slot(user=second.user, patient=second, slot=slot, now=session.release_at + datetime.timedelta(seconds=40))
    services.flush_attempt_counts(now=session.release_at + datetime.timedelta(minutes=10))
    services.flush_attempt_counts(now=session.release_at + datetime.timedelta(minutes=11))
    row = AttemptMinute.objects.get()
    assert (row.attempts, row.won) == (2, 1)


def test_the_flush_job_is_in_the_beat_schedule():
    assert BEAT_SCHEDULE[0] in declared_schedule()
    assert BEAT_SCHEDULE[0][1] == f"{flush_attempt_counts_task.__module__}.{flush_attempt_counts_task.__name__}"


def test_a_doctor_without_history_has_no_chance(doctor):
    chance = selectors.historical_chance(doctor_id=doctor.pk)
    assert chance["chance"] is None and chance["sessions"] == 0


def test_chance_api_shows_the_patient_the_doctors_history(rules, doctor, client, django_assert_max_num_queries):
    lottery = make_session(doctor=doctor, places=1, policy=AllocationPolicy.LOTTERY)
    for _entry in range(4):
        _enter(lottery)
    draw_schedule(schedule=lottery, now=lottery.request_closes_at)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("api_doctor_chance", args=[doctor.pk]))
    assert response.status_code == 200
    body = response.json()
    assert (body["policy"], body["chance"], body["sessions"]) == ("lottery", 0.25, 1)
    assert body["by_policy"]["lottery"]["entries"] == 4
    assert body["by_policy"]["fcfs"]["chance"] is None


def test_chance_api_answers_404_for_an_unknown_or_hidden_doctor(client):
    hidden = DoctorFactory(is_active=False)
    for doctor_id in (hidden.pk, hidden.pk + 1000):
        response = client.get(reverse("api_doctor_chance", args=[doctor_id]))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_the_doctor_page_shows_the_historical_chance_and_an_open_lotterys(rules, doctor):
    drawn = make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)
    for _entry in range(8):
        _enter(drawn)
    draw_schedule(schedule=drawn, now=drawn.request_closes_at)
    upcoming = make_session(
        doctor=doctor, date=drawn.date + datetime.timedelta(days=1), places=2, policy=AllocationPolicy.LOTTERY
    )
    for _entry in range(3):
        _enter(upcoming)
    now = max(drawn.request_closes_at, upcoming.release_at + datetime.timedelta(minutes=1))
    html = render_to_string("analytics/_doctor_chance.html", doctor_chance(doctor.pk, now=now))
    assert "历史中签率" in html
    assert "1 场出诊的成功率约为 <strong>38%</strong>" in html
    assert "已有 3 人报名、2 个号，现在报名的中签概率约 50%" in html


def test_the_doctor_page_says_when_there_is_no_history_yet(client, doctor):
    page = client.get(f"/doctors/{doctor.pk}/").content.decode()
    assert "暂无历史成功率" in page
