"""The release minute's fast path: statement counts, the sold-out mark and who clears it, cached rules.

Counts, not timings: a timed assertion does not belong in a test (the benchmark, `make bench`,
measures). The database's conditional UPDATE stays the only judge: the mark only refuses early.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import eligibility, errors, places
from booking.models import Appointment
from booking.services import (
    add_places,
    book_slot,
    cancel_appointment,
    expire_appointment,
    release_reserves,
    reschedule_appointment,
    suspend_schedule,
)
from booking.tests.conftest import ALL_ONLINE, run_concurrently
from hospital.channels import Channel
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.models import Slot
from scheduling.services import local_datetime
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def _book(patient, slot, **kwargs):
    return book_slot(user=patient.user, patient=patient, slot=slot, **kwargs)


def _fill(slot):
    slot.refresh_from_db()
    return [_book(PatientFactory(), slot) for _ in range(slot.online_capacity - slot.online_booked)]


def _sold_out(slot) -> bool:
    return places.sold_out_schedule(slot_id=slot.pk, channel=Channel.ONLINE) is not None


def _refused_and_marked(slot):
    """A refused attempt on the full slot (the database says so, and the mark is set)."""
    with pytest.raises(errors.SlotFull):
        _book(PatientFactory(), slot)
    assert _sold_out(slot)


def _transaction_statements(captured) -> list[str]:
    """The statements of the service's one transaction: in a `db` test its atomic block is the
    outermost savepoint (BEGIN/COMMIT in production), so those two are not statements of its own."""
    sql = [query["sql"] for query in captured]
    assert sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT")
    return sql[1:-1]


def test_a_winning_booking_is_at_most_8_statements(slot, patient):
    eligibility.schedule_rules(slot.schedule)  # the rules come from the cache, as at the release minute
    slot = Slot.objects.get(pk=slot.pk)
    with CaptureQueriesContext(connection) as captured:
        appointment = _book(patient, slot)
    statements = _transaction_statements(captured.captured_queries)
    assert len(statements) <= 8, "\n".join(statements)
    assert not any(sql.startswith("SAVEPOINT") for sql in statements)  # one transaction, no nested block
    assert not any("hospital_bookingrules" in sql for sql in statements)
    assert appointment.rules_version == slot.schedule.doctor.hospital.booking_rules.get().version


def test_a_refused_attempt_on_a_sold_out_slot_opens_no_transaction(slot):
    _fill(slot)
    _refused_and_marked(slot)
    latecomer = PatientFactory()
    with CaptureQueriesContext(connection) as captured, pytest.raises(errors.SlotFull):
        _book(latecomer, slot)
    assert captured.captured_queries == []  # not even a SAVEPOINT: no atomic block was entered


def test_a_stale_mark_refuses_but_the_database_alone_admits(slot):
    """Without a mark the database refuses a full slot itself; with a mark on a free slot (a
    moment's staleness) the attempt is refused, and nobody is ever admitted past the UPDATE."""
    places.mark_sold_out(slot=slot, channel=Channel.ONLINE)
    with pytest.raises(errors.SlotFull):
        _book(PatientFactory(), slot)
    assert not Appointment.objects.exists()
    from django.core.cache import cache

    cache.clear()  # the mark lapses (SOLD_OUT_SECONDS)
    _fill(slot)
    cache.clear()
    with pytest.raises(errors.SlotFull):
        _book(PatientFactory(), slot)
    slot.refresh_from_db()
    assert slot.online_booked == slot.online_capacity


def test_staff_channels_are_never_refused_on_the_mark(slot):
    places.mark_sold_out(slot=slot, channel=Channel.WINDOW)
    assert places.sold_out_schedule(slot_id=slot.pk, channel=Channel.WINDOW) is None


def test_an_idempotent_retry_of_the_last_place_gets_its_order_despite_the_mark(slot):
    slot.refresh_from_db()
    others = [PatientFactory() for _ in range(slot.online_capacity - 1)]
    for other in others:
        _book(other, slot)
    last = PatientFactory()
    first = _book(last, slot, idempotency_key="last-place")
    _refused_and_marked(slot)
    assert _book(last, slot, idempotency_key="last-place") == first


# --- every path that frees a place clears the mark (now and on commit) ----------------------------


def test_cancel_clears_the_mark(slot):
    taken = _fill(slot)
    _refused_and_marked(slot)
    cancel_appointment(user=taken[0].patient.user, appointment=taken[0])
    assert not _sold_out(slot)
    _book(PatientFactory(), slot)  # the freed place is bookable at once


def test_expiry_clears_the_mark(slot):
    taken = _fill(slot)
    _refused_and_marked(slot)
    assert expire_appointment(appointment_id=taken[0].pk, now=taken[0].payment_deadline)
    assert not _sold_out(slot)
    _book(PatientFactory(), slot)


def test_adding_places_clears_the_mark(slot, hospital_admin):
    _fill(slot)
    _refused_and_marked(slot)
    add_places(slot=slot, places=1, channel=Channel.ONLINE, reason="加号", by=hospital_admin)
    assert not _sold_out(slot)
    _book(PatientFactory(), slot)


def test_rescheduling_away_clears_the_mark(slot, doctor):
    taken = _fill(slot)
    _refused_and_marked(slot)
    other_day = make_session(doctor=doctor, date=slot.schedule.date + datetime.timedelta(days=1)).slots.get()
    mover = taken[0]
    reschedule_appointment(user=mover.patient.user, appointment=mover, slot_id=other_day.pk)
    assert not _sold_out(slot)
    _book(PatientFactory(), slot)


def test_suspending_clears_the_mark_so_patients_hear_of_the_suspension(slot, hospital_admin):
    _fill(slot)
    _refused_and_marked(slot)
    suspend_schedule(schedule=slot.schedule, reason="停诊", by=hospital_admin)
    assert not _sold_out(slot)
    with pytest.raises(errors.ScheduleUnavailable):
        _book(PatientFactory(), slot)


def test_releasing_reserves_clears_the_mark():
    doctor = DoctorFactory(registration_fee_fen=1000)
    rules = BookingRulesFactory(
        hospital=doctor.hospital, online_share=50, partner_share=10, window_share=30, clinic_share=10
    )
    slot = make_session(doctor=doctor, places=10).slots.get()
    _fill(slot)
    _refused_and_marked(slot)
    moment = local_datetime(
        slot.schedule.date - datetime.timedelta(days=rules.reserve_release_days_before), rules.reserve_release_time
    )
    assert release_reserves(now=moment) > 0
    assert not _sold_out(slot)
    _book(PatientFactory(), slot, now=moment)


def test_every_give_back_clears_the_mark(slot):
    """The one function every cancel, expiry, 停诊, refund and reschedule frees a place through."""
    taken = _fill(slot)
    _refused_and_marked(slot)
    locked, appointment = places.lock_appointment(taken[0].pk)
    places.give_back_place(slot=locked, channel=appointment.channel)
    assert not _sold_out(slot)


def test_freeing_clears_the_mark_again_on_commit(slot, django_capture_on_commit_callbacks):
    """A mark set by an UPDATE that raced with the freeing (before it committed) is cleared on commit."""
    taken = _fill(slot)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cancel_appointment(user=taken[0].patient.user, appointment=taken[0])
    places.mark_sold_out(slot=slot, channel=Channel.ONLINE)  # the racing loser, before the commit
    for callback in callbacks:
        callback()  # the commit
    assert not _sold_out(slot)


# --- rules cached per version --------------------------------------------------------------


def test_rules_are_cached_and_a_save_is_seen_by_the_next_booking(doctor, session):
    rules = doctor.hospital.booking_rules.get()
    eligibility.schedule_rules(session)
    with CaptureQueriesContext(connection) as captured:
        cached = eligibility.schedule_rules(session)
    assert captured.captured_queries == [] and cached.version == rules.version
    rules.max_active = 1
    rules.save()
    slot = session.slots.get()
    patient = PatientFactory()
    appointment = _book(patient, slot)
    assert appointment.rules_version == rules.version
    second = make_session(doctor=DoctorFactory(hospital=doctor.hospital)).slots.get()
    with pytest.raises(errors.LimitExceeded):
        _book(patient, second)


def test_deleting_rules_is_seen_too(doctor, session):
    rules = doctor.hospital.booking_rules.get()
    assert eligibility.schedule_rules(session).pk == rules.pk
    rules.delete()
    assert eligibility.schedule_rules(session).version == 0  # the defaults


# --- the race, against PostgreSQL ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_rush_sells_each_place_once_and_marks_the_slot():
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    slot = make_session(doctor=doctor, places=3).slots.get()
    patients = [PatientFactory() for _ in range(8)]
    outcomes = run_concurrently([lambda p=p: _book(p, slot).order_no for p in patients])
    assert sum(1 for outcome in outcomes if outcome != "slot_full") == 3
    assert outcomes.count("slot_full") == 5
    slot.refresh_from_db()
    assert slot.online_booked == slot.booked == 3
    assert Appointment.objects.filter(slot=slot).count() == 3
    assert _sold_out(slot)


# --- the rush's endpoint: a fixed number of queries whatever the data size ----------------------


def _post_booking(client, patient, slot):
    client.force_login(patient.user)
    body = {"slot": slot.pk, "patient": patient.pk}
    return client.post("/api/v1/appointments/", body, content_type="application/json")


def test_booking_and_refusing_through_the_api_cost_fixed_queries(client, doctor, rules, django_assert_max_num_queries):
    """A patient with a long history, on a busy slot, costs what a new patient on an empty one does."""
    eligibility.schedule_rules(make_session(doctor=doctor).slots.get().schedule)
    first = make_session(doctor=doctor, places=5, date=timezone.localdate() + datetime.timedelta(days=4))
    newcomer = PatientFactory()
    with CaptureQueriesContext(connection) as one:
        assert _post_booking(client, newcomer, first.slots.get()).status_code == 201

    regular = PatientFactory()
    for days in range(3, 7):  # a history of bookings with other sessions
        other = make_session(
            doctor=DoctorFactory(hospital=doctor.hospital), date=timezone.localdate() + datetime.timedelta(days=days)
        )
        _book(regular, other.slots.get())
    busy = make_session(doctor=doctor, places=5, date=timezone.localdate() + datetime.timedelta(days=5)).slots.get()
    for _ in range(3):
        _book(PatientFactory(), busy)
    with django_assert_max_num_queries(len(one)):
        assert _post_booking(client, regular, busy).status_code == 201

    _fill(busy)
    with CaptureQueriesContext(connection) as refused:
        assert _post_booking(client, PatientFactory(), busy).json()["code"] == "slot_full"
    # the mark is set now: later refusals cost no booking query at all
    with django_assert_max_num_queries(len(refused.captured_queries)):
        assert _post_booking(client, regular, busy).status_code == 409


def test_a_refusal_on_the_mark_reads_neither_patient_nor_slot(client, slot):
    """Through the API the body's ids go to the service as ids: the refusal is the session's
    user and the cache, nothing of the booking's tables."""
    _fill(slot)
    _refused_and_marked(slot)
    latecomer = PatientFactory()
    client.force_login(latecomer.user)
    body = {"slot": slot.pk, "patient": latecomer.pk}
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/appointments/", body, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "slot_full"
    tables = " ".join(query["sql"] for query in captured.captured_queries)
    assert "accounts_patient" not in tables and "scheduling_slot" not in tables, tables
    with CaptureQueriesContext(connection) as captured, pytest.raises(errors.SlotFull):
        book_slot(user=latecomer.user, patient=latecomer.pk, slot=slot.pk)
    assert captured.captured_queries == []


def test_with_an_app_token_a_refusal_on_the_mark_is_no_sql_at_all(slot):
    """The release minute's common case through the app's door: once the account's token has been
    seen (accounts.headless: the gate), the refusal reads nothing from the database."""
    from django.test import Client

    from accounts.tests.test_api import app_token

    _fill(slot)
    _refused_and_marked(slot)
    latecomer = PatientFactory()
    token = app_token(Client(), latecomer.user.phone)
    assert Client().get("/api/v1/patients/", HTTP_X_SESSION_TOKEN=token).status_code == 200  # the booking form
    body = {"slot": slot.pk, "patient": latecomer.pk}
    with CaptureQueriesContext(connection) as captured:
        response = Client().post(
            "/api/v1/appointments/", body, content_type="application/json", HTTP_X_SESSION_TOKEN=token
        )
    assert response.status_code == 409 and response.json()["code"] == "slot_full"
    assert captured.captured_queries == []


def test_with_an_app_token_a_winner_is_the_booking_and_two_statements_after_it(
    slot, patient, django_capture_on_commit_callbacks, monkeypatch
):
    """Through the app's door a winner reads no account row (its id is enough to book), and after
    the commit the 到号提醒's end and the SMS record are one statement each (the SMS's delivery is
    the worker's, not counted here)."""
    from django.test import Client

    from accounts.tests.test_api import app_token
    from notifications.tasks import deliver_sms_task

    monkeypatch.setattr(deliver_sms_task, "delay", lambda *args, **kwargs: None)

    eligibility.schedule_rules(slot.schedule)
    token = app_token(Client(), patient.user.phone)
    assert Client().get("/api/v1/patients/", HTTP_X_SESSION_TOKEN=token).status_code == 200
    body = {"slot": slot.pk, "patient": patient.pk}
    with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/api/v1/appointments/", body, content_type="application/json", HTTP_X_SESSION_TOKEN=token
        )
    assert response.status_code == 201, response.content
    sql = [query["sql"] for query in captured.captured_queries]
    assert not any('FROM "accounts_user"' in statement for statement in sql), sql
    statements = [statement for statement in sql if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(statements) <= 10, "\n".join(statements)
    assert sum(statement.startswith('INSERT INTO "notifications_notificationlog"') for statement in statements) == 1


def test_a_winning_booking_by_ids_is_at_most_8_statements_too(slot, patient):
    eligibility.schedule_rules(slot.schedule)
    with CaptureQueriesContext(connection) as captured:
        appointment = book_slot(user=patient.user, patient=patient.pk, slot=slot.pk)
    statements = _transaction_statements(captured.captured_queries)
    assert len(statements) <= 8, "\n".join(statements)
    assert appointment.patient == patient and appointment.slot == slot


@pytest.mark.parametrize("documented", [True, False])
def test_the_database_computes_the_same_person_key(documented):
    """lock_patient locks by the key the database computes; every other path by Patient.person_key."""
    patient = PatientFactory() if documented else PatientFactory(id_number="", id_number_hash="")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {places.PERSON_KEY_SQL} FROM accounts_patient WHERE id = %s", [patient.pk])
        assert cursor.fetchone()[0] == patient.person_key


@pytest.mark.django_db(transaction=True)
def test_one_person_by_id_and_by_object_at_once_gets_one_booking():
    """The person's lock holds across both ways in: the API's ids and the pages' objects."""
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    slot = make_session(doctor=doctor, places=10, segments=2).slots.order_by("pk")
    first, second = slot[0], slot[1]
    patient = PatientFactory()
    twin = PatientFactory(id_type=patient.id_type, id_number=patient.id_number)  # another account
    calls = []
    for n in range(6):
        target = first if n % 2 else second
        if n % 3:
            calls.append(lambda t=target: book_slot(user=patient.user, patient=patient.pk, slot=t.pk).order_no)
        else:
            calls.append(lambda t=target: book_slot(user=twin.user, patient=twin, slot=t).order_no)
    outcomes = run_concurrently(calls)
    assert Appointment.objects.filter(status__in=Appointment.ACTIVE).count() == 1, outcomes
    assert sum(1 for outcome in outcomes if outcome.startswith("20")) == 1, outcomes
