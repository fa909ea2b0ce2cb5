"""Hardening: the edge cases a correctness review of the engine found, each kept as a regression test.

Each test's docstring describes the failure it guards against (severity, where, what went wrong)
and the fix that is now in place.
"""

import contextlib
import datetime
import functools
import importlib
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from accounts.tests.factories import PartnerFactory, PatientFactory
from booking import allocation, eligibility, errors, places
from booking import services as booking_services
from booking.allocation import Lottery, draw_due_schedules, draw_schedule, request_booking, verify_draw
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from booking.selectors import active_ban
from booking.services import (
    book_slot,
    cancel_appointment,
    join_waitlist,
    mark_no_shows,
    suspend_schedule,
    waive_penalty,
)
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from payments.models import Payment, Refund
from scheduling.models import AllocationPolicy, Schedule
from scheduling.tests.factories import make_session

ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


def _book(patient, slot, **kwargs):
    return book_slot(user=patient.user, patient=patient, slot=slot, **kwargs)


def _confirm_paid(appointment):
    now = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CONFIRMED, paid_at=now)
    Payment.objects.create(
        order_no=appointment.order_no,
        provider="wechat",
        method="native",
        amount_fen=appointment.fee_fen,
        subject="挂号费",
        status=Payment.Status.PAID,
        expires_at=appointment.payment_deadline,
        paid_at=now,
    )
    appointment.refresh_from_db()
    return appointment


def _run_every_beat_job():
    """What the clock would do afterwards, forever: every periodic job booking and payments declare."""
    from booking import tasks as booking_tasks
    from payments import tasks as payments_tasks

    for _name, path, _every in [*booking_tasks.BEAT_SCHEDULE, *payments_tasks.BEAT_SCHEDULE]:
        module, _, name = path.rpartition(".")
        task = getattr(importlib.import_module(module), name)
        if name == "sweep_processing_refunds":
            task(min_age_minutes=0)
        elif name == "retry_unfinished_refunds_task":
            from booking.services import retry_unfinished_refunds

            retry_unfinished_refunds(now=timezone.now() + datetime.timedelta(minutes=11))
        else:
            task()


# ---------------------------------------------------------------------------------------------
# Money


@pytest.mark.django_db
def test_refund_survives_a_broker_outage_at_commit(slot, patient, monkeypatch, django_capture_on_commit_callbacks):
    """HIGH (money). booking/services.py `_request_refund_on_commit`: the refund request exists only as a
    non-robust `on_commit(lambda: request_refund_task.delay(order_no))`. If the broker is unreachable
    at that moment, `.delay` raises AFTER the cancellation committed: the caller gets a 500 for a
    cancellation that happened, later on_commit hooks (the SMS) are dropped, and because
    `refund_requested_at` is already set nothing ever asks for the refund again — no beat job looks
    for "refund requested, no Refund row". The patient's money is kept. The same hole exists on the
    late-payment path (`record_payment`): there the notification endpoint 500s, the provider's retry
    finds the payment already paid, no signal fires, and the late payment is never refunded.

    Fix: register the hook with `robust=True`, and add an idempotent beat job (booking/tasks.py) that
    calls `payments.services.request_refund` for every appointment with `refund_requested_at` set,
    `refunded_at` null and no non-failed Refund (request_refund is already idempotent). Do not call
    request_refund inside the cancel transaction instead: it locks the Payment row after the
    appointment, the reverse of record_payment_paid's payment → appointment order (deadlock).
    """
    appointment = _confirm_paid(_book(patient, slot))
    from booking.tasks import request_refund_task

    def broker_down(*args, **kwargs):
        raise BrokerDown("[Errno 111] Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(request_refund_task, "delay", broker_down)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                cancel_appointment(user=patient.user, appointment=appointment)
        except BrokerDown:
            pass  # today: a 500 for a committed cancellation
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.refund_requested_at is not None

    _run_every_beat_job()  # the broker is back; the clock keeps running
    assert Refund.objects.filter(payment__order_no=appointment.order_no).exists(), (
        "the paid, cancelled order is never refunded"
    )


# ---------------------------------------------------------------------------------------------
# Lottery / priority rules


@pytest.fixture
def lottery(rules, doctor):
    return make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)


def _request(session, patient=None, **kwargs):
    patient = patient or PatientFactory()
    kwargs.setdefault("user", patient.user)
    return request_booking(patient=patient, schedule=session, now=session.release_at, **kwargs)


@pytest.mark.django_db
def test_places_left_after_a_lottery_can_be_booked_online(lottery):
    """HIGH (rule: places wasted). After a lottery/priority draw with fewer winners than online places —
    or once a winner's order expires with nobody on the waitlist — the free places are unreachable:
    `book_slot` (services.py `_book_slot`, `if schedule.uses_requests and channel not in
    STAFF_CHANNELS: raise RequestsOnly`) refuses because the session is a lottery, and `join_waitlist`
    refuses because there are free places ("尚有可预约号源，请直接预约"). The patient is told to book
    directly and booking tells them to enter the (closed) lottery.

    Fix: once `schedule.drawn_at` is set, treat the session as FCFS in `_book_slot`
    (`if schedule.uses_requests and schedule.drawn_at is None and channel not in STAFF_CHANNELS`).
    """
    _request(lottery)  # one request for three places
    closes = lottery.request_closes_at
    draw_schedule(schedule=lottery, now=closes)
    latecomer = PatientFactory()
    outcomes = []
    try:
        _book(latecomer, lottery.slots.get(), now=closes + datetime.timedelta(minutes=5))
        outcomes.append("booked")
    except errors.BookingError as exc:
        outcomes.append(exc.code)
    try:
        join_waitlist(
            user=latecomer.user, patient=latecomer, schedule=lottery, now=closes + datetime.timedelta(minutes=5)
        )
        outcomes.append("waiting")
    except errors.BookingError as exc:
        outcomes.append(exc.code)
    assert "booked" in outcomes or "waiting" in outcomes, f"two free places, and the patient can only get {outcomes}"


@pytest.mark.django_db
def test_verify_draw_accepts_a_correct_draw_with_partner_requests():
    """MEDIUM (rule: verify_draw). allocation.py `verify_draw` expects the winners to be "the first N
    eligible requests in draw order", but `draw_schedule` places each request in ITS OWN channel
    (`_place_in_first_free_slot` uses `slot.free_of(request.channel)`, and request_booking accepts
    `channel=partner`). When the online share is used up, a later partner request still wins a
    partner place while earlier online requests lose — a correct draw that verify_draw calls not ok.

    Fix: make verify_draw replay the allocation per channel (walk the recomputed order, keep a
    per-channel count of free places as of the draw — store the places per channel on the schedule at
    draw time — and award a request iff its channel still has a place), instead of `eligible[:N]`.
    """
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, online_share=50, partner_share=50, window_share=0, clinic_share=0)
    session = make_session(doctor=doctor, places=2, policy=AllocationPolicy.LOTTERY)  # 1 online + 1 partner
    online = [_request(session) for _ in range(3)]
    partner = PartnerFactory()
    via_partner = _request(session, PatientFactory(user=partner.user), channel=Channel.PARTNER)
    requests = sorted([*online, via_partner], key=lambda r: r.pk)
    seed = next(s for s in range(1000) if Lottery().order(requests, s)[-1].pk == via_partner.pk)

    result = draw_schedule(schedule=session, now=session.request_closes_at, seed=seed)
    assert via_partner.pk in result.winners and len(result.winners) == 2  # the draw itself is right
    check = verify_draw(schedule=session)
    assert check.ok, f"a correct draw is reported as tampered: {check}"


@pytest.mark.django_db
def test_an_unknown_urgency_is_refused_and_never_stalls_the_draws(rules, doctor):
    """MEDIUM (bad input → 500, and the clock stalls). allocation.py `request_booking` stores any
    integer as `urgency` (no validation; the column has choices but no CHECK). At the draw,
    `priority_score` does `BookingRequest.Urgency(request.urgency)` → ValueError: the draw rolls back,
    and `draw_due_schedules` (which only catches DrawNotDue) aborts, so this session AND every
    session after it in the loop is never drawn; the beat job fails the same way every minute.
    (urgency=-1 instead gets an IntegrityError from the unsigned column, which request_booking
    misreports as `duplicate_request`.)

    Fix: validate in request_booking (`if urgency not in BookingRequest.Urgency.values: raise
    errors.InvalidUrgency()` — a new 400 domain error), add a CheckConstraint on the column, and in
    draw_due_schedules log-and-continue on any exception per schedule.
    """
    bad = make_session(doctor=doctor, places=2, policy=AllocationPolicy.PRIORITY)
    other_doctor = DoctorFactory(hospital=doctor.hospital, registration_fee_fen=2000)
    good = make_session(doctor=other_doctor, places=2, policy=AllocationPolicy.PRIORITY)
    _request(good)
    with contextlib.suppress(errors.BookingError):  # refused as a domain error: fine
        _request(bad, urgency=9)
    draw_due_schedules(now=max(bad.request_closes_at, good.request_closes_at))
    assert not Schedule.objects.filter(pk__in=[bad.pk, good.pk], drawn_at__isnull=True).exists()


# ---------------------------------------------------------------------------------------------
# Penalties and bans


def _no_show(patient, doctor, day):
    slot = make_session(doctor=doctor, date=day).slots.get()
    appointment = _book(patient, slot, now=slot.start_at - datetime.timedelta(days=1))
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CONFIRMED)
    when = slot.schedule.end_at + datetime.timedelta(minutes=1)
    mark_no_shows(now=when)
    return when


@pytest.mark.django_db
def test_waiving_the_record_that_caused_a_second_ban_lifts_it(rules, doctor, patient, hospital_admin):
    """MEDIUM (rule: bans). A ban is issued by counting records SINCE THE LAST BAN BEGAN
    (`_ban_if_threshold_crossed`), but `waive_penalty` re-counts over the whole window before the
    ban (`occurred_at__gt=ban.starts_at - no_show_window_days`), so records that were already
    "paid for" by an earlier, served ban are counted again. Someone banned once (3 no-shows, served
    90 days), then banned again (3 more), whose third new record is waived by staff stays banned:
    the re-count sees 5 records instead of 2.

    Fix: in waive_penalty use the same lower bound as when the ban was issued: max(window start,
    starts_at of the previous unlifted ban before this one) — e.g. factor the "since" computation
    out of _ban_if_threshold_crossed and call it with `now=ban.starts_at`, excluding `ban` itself.
    """
    today = timezone.localdate()
    for offset in (1, 2, 3):
        first_ban_at = _no_show(patient, doctor, today + datetime.timedelta(days=offset))
    first = BookingBan.objects.get()
    assert first.ends_at == first_ban_at + datetime.timedelta(days=rules.ban_days)
    for offset in (100, 101, 102):
        second_ban_at = _no_show(patient, doctor, today + datetime.timedelta(days=offset))
    assert BookingBan.objects.count() == 2
    last_record = Penalty.objects.order_by("-occurred_at").first()
    waive_penalty(penalty=last_record, by=hospital_admin, reason="住院证明", now=second_ban_at)
    assert active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=second_ban_at) is None, (
        "two unwaived records since the last ban, threshold 3: the ban should be lifted"
    )


# ---------------------------------------------------------------------------------------------
# Races (real threads, each with its own PostgreSQL connection)


def _in_threads(*calls):
    """Run each call in its own thread; return its result, its domain error code, or the crash."""
    outcomes = [None] * len(calls)

    def worker(index, call):
        try:
            outcomes[index] = call()
        except errors.BookingError as exc:
            outcomes[index] = exc.code
        except Exception as exc:
            outcomes[index] = f"crash: {exc!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c), name=f"call-{i}") for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_one_person_under_two_accounts_cannot_exceed_the_daily_limit_at_once(monkeypatch):
    """MEDIUM (invariant: per-person limits). `_book_slot` serialises a person's requests by locking
    the PATIENT row, but limits are per real person (person_key = ID hash). The same person entered
    as a 就诊人 under two accounts has two Patient rows, so two bookings at once both count 0 and both
    commit: max_per_hospital_per_day=1 ends with 2 appointments (same for the department/day,
    active and monthly limits; the DB only guards the same-doctor-day case). The same unlocked
    `_check_person` is used by offer_to_waitlist and draw_schedule.

    The barrier below only pins down an interleaving READ COMMITTED allows: both checks run before
    either insert commits.

    Fix: serialise by person, not by row: at the start of the transaction take
    `SELECT pg_advisory_xact_lock(hashtextextended(person_key, 0))` (first in the lock order, before
    the slot), in book_slot, request_booking and join_waitlist; offer_to_waitlist/draw (which already
    hold slot/schedule locks) should use pg_try_advisory_xact_lock and skip the entry if busy.
    """
    doctor_a = DoctorFactory(registration_fee_fen=2000)
    doctor_b = DoctorFactory(hospital=doctor_a.hospital, registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor_a.hospital, max_per_hospital_per_day=1, **ALL_ONLINE)
    slot_a = make_session(doctor=doctor_a).slots.get()
    slot_b = make_session(doctor=doctor_b, date=slot_a.schedule.date).slots.get()
    me = PatientFactory()
    me_again = PatientFactory(id_number=me.id_number, birth_date=me.birth_date, gender=me.gender, name=me.name)
    assert me.person_key == me_again.person_key and me.user_id != me_again.user_id

    both_checked = threading.Barrier(2)
    original = eligibility.check_person

    def check_then_wait(**kwargs):
        original(**kwargs)
        both_checked.wait(timeout=10)

    monkeypatch.setattr(eligibility, "check_person", check_then_wait)
    outcomes = _in_threads(functools.partial(_book, me, slot_a), functools.partial(_book, me_again, slot_b))
    held = Appointment.objects.filter(person_key=me.person_key, visit_date=slot_a.schedule.date).count()
    assert held <= 1, f"limit 1 per hospital per day, the person holds {held}: {outcomes}"


@pytest.mark.django_db(transaction=True)
def test_a_draw_and_a_suspension_at_once_do_not_deadlock(monkeypatch):
    """MEDIUM (lock order). The module's lock order is patient → slot → schedule → appointment, but
    allocation.py `draw_schedule` locks the SCHEDULE first (`select_for_update(of=("self",))`) and
    then takes SLOT rows (`_take_place`), while `suspend_schedule` locks the slots
    (`Slot...update(is_open=False)`) and then the schedule (`Schedule...update(status=SUSPENDED)`).
    A 停诊 pressed while the beat job is drawing that session deadlocks; PostgreSQL kills one side
    (OperationalError "deadlock detected" → a 500 for the staff member, or a failed draw task that
    also aborts `draw_due_schedules` for every later session). The same inversion exists between the
    draw and a staff booking / cancellation that hands out a 加号 number (`_assign_number` updates
    the schedule row while holding the slot).

    The events below only pin down the interleaving (draw holds the schedule, suspension holds the
    slots).

    Fix: in draw_schedule lock the session's slots first (`list(Slot.objects.select_for_update()
    .filter(schedule_id=pk).order_by("pk"))`), then the schedule row; lock slots in pk order
    everywhere a service locks several (suspend's UPDATE, _release_schedule_channels).
    """
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    scheduler = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user
    session = make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)
    for _ in range(3):
        _request(session)
    closes = session.request_closes_at

    draw_holds_schedule, suspension_started = threading.Event(), threading.Event()
    original = allocation._drawn_requests

    def drawn_requests_then_pause(schedule):
        requests = original(schedule)
        draw_holds_schedule.set()
        suspension_started.wait(timeout=10)
        time.sleep(0.5)  # the suspension now holds the slots and waits for the schedule row
        return requests

    monkeypatch.setattr(allocation, "_drawn_requests", drawn_requests_then_pause)

    def suspend():
        draw_holds_schedule.wait(timeout=10)
        suspension_started.set()
        return suspend_schedule(schedule=session, reason="医生临时停诊", by=scheduler, now=closes)

    outcomes = _in_threads(functools.partial(draw_schedule, schedule=session, now=closes), suspend)
    crashes = [o for o in outcomes if isinstance(o, str) and o.startswith("crash")]
    assert not crashes, crashes


@pytest.mark.django_db(transaction=True)
def test_joining_the_waitlist_during_a_suspension_leaves_no_entry_waiting(monkeypatch):
    """LOW (停诊 fencing). `join_waitlist` reads the schedule's status without any lock, then locks the
    patient and inserts. A 停诊 that commits in between closes the waitlist (`WAITING → CLOSED`)
    without seeing the uncommitted entry, which then commits as WAITING on a suspended session: the
    patient sees "候补中" for a session that will never run and is never told. `request_booking`
    has the same gap (a PENDING request on a suspended session, never drawn, never cancelled).

    Fix: in join_waitlist/request_booking lock the patient first, then re-read the schedule with
    `select_for_share()` (patient → schedule follows the lock order; suspension's status UPDATE then
    waits for the join to commit, and its WaitlistEntry/BookingRequest UPDATE sees the new row).
    """
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    scheduler = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user
    session = make_session(doctor=doctor, places=2)
    slot = session.slots.get()
    for _ in range(2):
        _book(PatientFactory(), slot)
    joiner = PatientFactory()

    joiner_checked, suspended = threading.Event(), threading.Event()
    original = eligibility.check_person

    def check_then_wait(**kwargs):
        original(**kwargs)
        if threading.current_thread().name == "call-0":
            joiner_checked.set()
            suspended.wait(timeout=10)

    monkeypatch.setattr(eligibility, "check_person", check_then_wait)

    def suspend():
        joiner_checked.wait(timeout=10)
        try:
            return suspend_schedule(schedule=session, reason="医生临时停诊", by=scheduler)
        finally:
            suspended.set()

    outcomes = _in_threads(
        functools.partial(join_waitlist, user=joiner.user, patient=joiner, schedule=session), suspend
    )
    assert Schedule.objects.get(pk=session.pk).status == Schedule.Status.SUSPENDED
    waiting = WaitlistEntry.objects.filter(schedule=session, status=WaitlistEntry.Status.WAITING).count()
    assert waiting == 0, f"{waiting} entry still waiting on a suspended session: {outcomes}"


@pytest.mark.django_db(transaction=True)
def test_a_request_racing_the_draw_is_either_drawn_or_refused(monkeypatch):
    """LOW (lottery). `request_booking` checks `drawn_at is None` and the window on an unlocked read of
    the schedule. A request whose transaction started before the window closed (e.g. it waited for
    its patient's row lock) can commit after `draw_schedule` took its snapshot of the requests: it
    stays PENDING forever (never drawn, never told), and `verify_draw` — which re-reads all non-
    withdrawn requests — reports the session as tampered from then on.

    Fix: same as the waitlist race — request_booking takes `select_for_share()` on the schedule row
    after locking the patient; draw_schedule's `select_for_update` then waits for in-flight requests,
    and a request that waited re-checks `drawn_at` under the lock.
    """
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    session = make_session(doctor=doctor, places=3, policy=AllocationPolicy.LOTTERY)
    for _ in range(2):
        _request(session)
    closes = session.request_closes_at
    late = PatientFactory()

    late_checked, drawn = threading.Event(), threading.Event()
    original = eligibility.check_person

    def check_then_wait(**kwargs):
        original(**kwargs)
        if threading.current_thread().name == "call-0":
            late_checked.set()
            drawn.wait(timeout=10)

    monkeypatch.setattr(eligibility, "check_person", check_then_wait)

    def draw():
        late_checked.wait(timeout=10)
        try:
            return draw_schedule(schedule=session, now=closes)
        finally:
            drawn.set()

    outcomes = _in_threads(
        functools.partial(
            request_booking,
            user=late.user,
            patient=late,
            schedule=session,
            now=closes - datetime.timedelta(seconds=1),
        ),
        draw,
    )
    pending = BookingRequest.objects.filter(schedule=session, status=BookingRequest.Status.PENDING).count()
    assert pending == 0, f"{pending} request never drawn: {outcomes}"
    assert verify_draw(schedule=session).ok


@pytest.mark.django_db(transaction=True)
def test_a_retry_whose_first_attempt_took_the_last_place_gets_that_order(monkeypatch):
    """MEDIUM (idempotency; regression in the uncommitted "fast refusal" added to `_book_slot`:
    `if slot.free_of(channel) <= 0: _raise_not_placed(...)`, placed BEFORE the patient lock and the
    idempotency re-check). A retry whose pre-check (`book_slot`, before the transaction) ran while
    the first request was still committing now reads the slot after that commit, sees it full — full
    because of its own first request — and answers `slot_full` instead of returning the first
    result. The app shows "约满了" to a patient who in fact holds the place (and will be charged/no-
    showed for it). Before the fast path, the retry waited on the patient lock and then found the key.

    Fix: do the fast refusal only after the idempotency re-check (i.e. after locking the patient),
    or re-check the idempotency key inside the fast path before raising
    (`if idempotency_key and Appointment.objects.filter(booked_by_id=..., idempotency_key=...).exists():
    raise _IdempotentReplay()`).
    """
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    slot = make_session(doctor=doctor, places=1).slots.get()
    patient = PatientFactory()

    retry_passed_precheck, first_done = threading.Event(), threading.Event()
    original = places.load_slot

    def load_slot(slot_id, **kwargs):
        if threading.current_thread().name == "call-1":
            retry_passed_precheck.set()
            first_done.wait(timeout=10)
        return original(slot_id, **kwargs)

    monkeypatch.setattr(places, "load_slot", load_slot)

    def first():
        retry_passed_precheck.wait(timeout=10)
        try:
            return _book(patient, slot, idempotency_key="tap-1")
        finally:
            first_done.set()

    outcomes = _in_threads(first, functools.partial(_book, patient, slot, idempotency_key="tap-1"))
    assert all(isinstance(o, Appointment) for o in outcomes), outcomes
    assert outcomes[0].pk == outcomes[1].pk


@pytest.mark.django_db(transaction=True)
def test_a_patient_who_left_the_waitlist_is_not_promoted(monkeypatch):
    """LOW (waitlist). `offer_to_waitlist` reads the WAITING entries without locking them and marks the
    winner with an unconditional `WaitlistEntry.objects.filter(pk=entry.pk).update(status=PROMOTED)`.
    If the patient leaves the waitlist (`leave_waitlist`) while a cancellation is promoting them, they
    still get a pending_payment appointment and a "候补成功" SMS, their CANCELLED entry is overwritten
    with PROMOTED, and the place is held (30 min by default) from the next person in line.

    Fix: in offer_to_waitlist, inside the per-entry savepoint, claim the entry first with
    `WaitlistEntry.objects.filter(pk=entry.pk, status=WAITING).update(status=PROMOTED, ...)`; if it
    returns 0, skip the entry (roll back the savepoint) — or lock entries with
    `select_for_update(skip_locked=True)`.
    """
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    session = make_session(doctor=doctor, places=2)
    slot = session.slots.get()
    holders = [PatientFactory() for _ in range(2)]
    held = [_book(p, slot) for p in holders]
    waiter = PatientFactory()
    entry = join_waitlist(user=waiter.user, patient=waiter, schedule=session)

    being_promoted, left = threading.Event(), threading.Event()
    original = eligibility.check_person

    def check_then_wait(**kwargs):
        original(**kwargs)
        if threading.current_thread().name == "call-0":
            being_promoted.set()
            left.wait(timeout=10)

    monkeypatch.setattr(eligibility, "check_person", check_then_wait)

    def leave():
        being_promoted.wait(timeout=10)
        try:
            return booking_services.leave_waitlist(user=waiter.user, entry=entry)
        finally:
            left.set()

    outcomes = _in_threads(functools.partial(cancel_appointment, user=holders[0].user, appointment=held[0]), leave)
    entry.refresh_from_db()
    promoted = Appointment.objects.filter(patient=waiter, status__in=Appointment.ACTIVE).count()
    assert (entry.status, promoted) == (WaitlistEntry.Status.CANCELLED, 0), (entry.status, promoted, outcomes)
