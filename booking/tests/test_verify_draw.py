"""The auditable lottery really audits: verify_draw recomputes the draw from its record and
fails on any one stored row changed (status, patient, rank, score, seed, places)."""

import datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import PartnerFactory, PatientFactory
from booking.allocation import draw_schedule, request_booking, verify_draw
from booking.models import Appointment, BookingBan, BookingRequest, DrawRecord
from hospital.channels import Channel
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.models import AllocationPolicy, Schedule
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db
Status = BookingRequest.Status


class _Rollback(Exception):
    pass


def _drawn(policy):
    """A drawn session: 2 online + 2 partner places; 6 online entries, 1 partner entry, 1 banned before the draw."""
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, online_share=50, partner_share=50, window_share=0, clinic_share=0)
    session = make_session(doctor=doctor, places=4, policy=policy)
    at = session.release_at

    def enter(patient, **kwargs):
        kwargs.setdefault("user", patient.user)
        return request_booking(patient=patient, schedule=session, now=at, **kwargs)

    urgencies = [0, 1, 2, 3, 0, 1]
    births = [datetime.date(1940, 1, 1), datetime.date(1990, 5, 5), datetime.date(2020, 3, 3)]
    for index, urgency in enumerate(urgencies):
        enter(PatientFactory(birth_date=births[index % 3]), urgency=urgency)
    partner = PartnerFactory()
    enter(PatientFactory(user=partner.user), channel=Channel.PARTNER)
    banned = PatientFactory()
    enter(banned)
    BookingBan.objects.create(
        person_key=banned.person_key,
        patient=banned,
        hospital=doctor.hospital,
        starts_at=at,
        ends_at=at + datetime.timedelta(days=90),
        reason="test",
    )
    draw_schedule(schedule=session, now=session.request_closes_at, seed=20261129)
    return session


@pytest.fixture(params=[AllocationPolicy.LOTTERY, AllocationPolicy.PRIORITY])
def drawn(request, db):
    return _drawn(request.param)


def test_an_unmodified_draw_verifies(drawn):
    check = verify_draw(schedule=drawn)
    assert check.ok, check.problems
    statuses = set(BookingRequest.objects.filter(schedule=drawn).values_list("status", flat=True))
    assert statuses == {Status.WON, Status.LOST, Status.INELIGIBLE}  # the fixture exercises every outcome
    record = DrawRecord.objects.get(schedule=drawn)
    assert record.places[Channel.ONLINE] == 2 and record.places[Channel.PARTNER] == 2
    assert record.places_left == {**record.places, Channel.ONLINE: 0, Channel.PARTNER: 1}


def _first(drawn, status, last=False):
    rows = BookingRequest.objects.filter(schedule=drawn, status=status).order_by("draw_rank")
    return rows.last() if last else rows.first()


@pytest.mark.parametrize(
    "tamper",
    ["first_loser_won", "last_winner_lost", "winner_ineligible", "winners_patient_swapped"],
)
def test_the_tamperings_from_the_issue_are_caught(drawn, tamper):
    if tamper == "first_loser_won":
        BookingRequest.objects.filter(pk=_first(drawn, Status.LOST).pk).update(status=Status.WON)
    elif tamper == "last_winner_lost":
        BookingRequest.objects.filter(pk=_first(drawn, Status.WON, last=True).pk).update(status=Status.LOST)
    elif tamper == "winner_ineligible":
        BookingRequest.objects.filter(pk=_first(drawn, Status.WON).pk).update(status=Status.INELIGIBLE)
    else:
        winner = _first(drawn, Status.WON)
        Appointment.objects.filter(pk=winner.appointment_id).update(patient=PatientFactory())
    assert not verify_draw(schedule=drawn).ok


# --- any one stored row changed --------------------------------------------------------------

FIELDS = ["status", "patient", "appointment_patient", "rank", "score", "schedule_seed", "record_seed", "places"]


@st.composite
def mutations(draw, request_ids, channels):
    kind = draw(st.sampled_from(FIELDS))
    target = draw(st.sampled_from(request_ids))
    shift = draw(st.integers(1, 5)) * draw(st.sampled_from([-1, 1]))
    return {
        "kind": kind,
        "request": target,
        "status": draw(st.sampled_from(Status.values)),
        "shift": shift,
        "channel": draw(st.sampled_from(channels)),
        "left": draw(st.booleans()),
    }


def _apply(mutation, *, schedule, stranger) -> bool:
    """Change one stored row; False when the drawn change would leave the row as it was."""
    row = BookingRequest.objects.get(pk=mutation["request"])
    requests = BookingRequest.objects.filter(pk=row.pk)
    kind = mutation["kind"]
    if kind == "status":
        if mutation["status"] == row.status:
            return False
        requests.update(status=mutation["status"])
    elif kind == "patient":
        requests.update(patient=stranger)
    elif kind == "appointment_patient":
        if row.appointment_id is None:
            return False
        Appointment.objects.filter(pk=row.appointment_id).update(patient=stranger)
    elif kind == "rank":
        requests.update(draw_rank=max(1, row.draw_rank + mutation["shift"]))
        return max(1, row.draw_rank + mutation["shift"]) != row.draw_rank
    elif kind == "score":
        requests.update(score=row.score + mutation["shift"])
    elif kind == "schedule_seed":
        Schedule.objects.filter(pk=schedule.pk).update(draw_seed=schedule.draw_seed + mutation["shift"])
    else:
        record = DrawRecord.objects.get(schedule=schedule)
        if kind == "record_seed":
            record.seed += mutation["shift"]
        else:
            counts = record.places_left if mutation["left"] else record.places
            counts[mutation["channel"]] += mutation["shift"]
        record.save()
    return True


@pytest.mark.slow
def test_changing_any_one_stored_row_fails_verification(drawn):
    drawn.refresh_from_db()
    request_ids = list(BookingRequest.objects.filter(schedule=drawn).values_list("pk", flat=True))
    stranger = PatientFactory()

    @settings(
        max_examples=120,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(mutation=mutations(request_ids, Channel.values))
    def check(mutation):
        try:
            with transaction.atomic():
                if _apply(mutation, schedule=drawn, stranger=stranger):
                    result = verify_draw(schedule=drawn)
                    assert not result.ok, f"{mutation} verified as ok"
                raise _Rollback()
        except _Rollback:
            pass

    check()
    assert verify_draw(schedule=drawn).ok  # every change was rolled back
