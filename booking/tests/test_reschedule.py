"""改约: one transaction that takes the new place before it gives the old one back."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors
from booking.models import Appointment, Penalty, WaitlistEntry
from booking.services import book_slot, join_waitlist, pay_appointment, reschedule_appointment
from booking.tests.conftest import ALL_ONLINE, run_concurrently
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from payments.models import Payment, Refund
from scheduling.models import Period, Schedule, Slot
from scheduling.tests.factories import make_session

Status = Appointment.Status


@pytest.fixture
def other_slot(session, doctor):
    """The same doctor, the next day."""
    return make_session(doctor=doctor, date=session.date + datetime.timedelta(days=1), places=5).slots.get()


def _book(patient, slot, **kwargs):
    return book_slot(user=patient.user, patient=patient, slot=slot, **kwargs)


def _paid(client, patient, slot):
    appointment = _book(patient, slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="sandbox", method="page")
    client.post(started.redirect_url)
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    return appointment


def _counts(*slots):
    return [Slot.objects.get(pk=s.pk).booked for s in slots]


def _set_fee(slot, fee_fen):
    Schedule.objects.filter(pk=slot.schedule_id).update(fee_fen=fee_fen)
    slot.refresh_from_db()


# ---------------------------------------------------------------------------------------------
# The move itself


def test_reschedule_moves_the_place(patient, slot, other_slot):
    old = _book(patient, slot)
    new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    old.refresh_from_db()
    assert old.status == Status.RESCHEDULED
    assert new.slot_id == other_slot.pk and new.rescheduled_from_id == old.pk and new.reschedule_count == 1
    assert _counts(slot, other_slot) == [0, 1]


def test_reschedule_to_another_segment_the_same_day(patient, doctor, rules):
    """The one-active-per-person-per-doctor-per-day constraint must let the move through."""
    morning = make_session(doctor=doctor, places=2, segments=2)
    first, second = morning.slots.order_by("start_at")
    old = _book(patient, first)
    new = reschedule_appointment(user=patient.user, appointment=old, slot_id=second.pk)
    assert new.slot_id == second.pk and new.status == Status.PENDING_PAYMENT
    assert _counts(first, second) == [0, 1]


def test_reschedule_to_another_session_the_same_day(patient, slot, session, doctor):
    afternoon = make_session(doctor=doctor, date=session.date, period=Period.AFTERNOON, places=3).slots.get()
    old = _book(patient, slot)
    new = reschedule_appointment(user=patient.user, appointment=old, slot_id=afternoon.pk)
    assert new.schedule_id == afternoon.schedule_id
    assert Appointment.objects.filter(patient=patient, status__in=Appointment.ACTIVE).count() == 1


def test_full_new_slot_keeps_the_old_appointment(patient, slot, doctor, session):
    full = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=1), places=1).slots.get()
    _book(PatientFactory(), full)
    old = _book(patient, slot)
    before = Appointment.objects.values().get(pk=old.pk)
    with pytest.raises(errors.SlotFull):
        reschedule_appointment(user=patient.user, appointment=old, slot_id=full.pk)
    assert Appointment.objects.values().get(pk=old.pk) == before
    assert _counts(slot, full) == [1, 1]
    assert Appointment.objects.filter(patient=patient).count() == 1


def test_another_doctor_is_refused(patient, slot):
    elsewhere = make_session(doctor=DoctorFactory()).slots.get()
    old = _book(patient, slot)
    with pytest.raises(errors.RescheduleNotAllowed):
        reschedule_appointment(user=patient.user, appointment=old, slot_id=elsewhere.pk)


def test_the_same_slot_is_refused(patient, slot):
    old = _book(patient, slot)
    with pytest.raises(errors.RescheduleNotAllowed) as caught:
        reschedule_appointment(user=patient.user, appointment=old, slot_id=slot.pk)
    assert caught.value.code == "reschedule_not_allowed" and caught.value.status == 409


def test_only_the_owner_may_reschedule(patient, slot, other_slot, outsider):
    old = _book(patient, slot)
    with pytest.raises(errors.NotOwner):
        reschedule_appointment(user=outsider, appointment=old, slot_id=other_slot.pk)
    assert _counts(slot, other_slot) == [1, 0]


def test_limit_from_the_rules(patient, slot, other_slot, session, doctor):
    third = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=2)).slots.get()
    moved = reschedule_appointment(user=patient.user, appointment=_book(patient, slot), slot_id=other_slot.pk)
    with pytest.raises(errors.RescheduleLimitReached) as caught:
        reschedule_appointment(user=patient.user, appointment=moved, slot_id=third.pk)
    assert caught.value.code == "reschedule_limit_reached" and caught.value.status == 409
    assert _counts(slot, other_slot, third) == [0, 1, 0]


def test_zero_reschedules_allowed(patient, slot, other_slot, rules):
    rules.max_reschedules = 0
    rules.save()
    with pytest.raises(errors.RescheduleLimitReached):
        reschedule_appointment(user=patient.user, appointment=_book(patient, slot), slot_id=other_slot.pk)


def test_a_finished_appointment_cannot_move(patient, slot, other_slot):
    old = _book(patient, slot)
    Appointment.objects.filter(pk=old.pk).update(status=Status.CANCELLED)
    with pytest.raises(errors.RescheduleNotAllowed):
        reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)


def test_after_the_cancel_deadline_it_is_refused(patient, slot, other_slot):
    old = _book(patient, slot)
    with pytest.raises(errors.RescheduleNotAllowed):
        reschedule_appointment(
            user=patient.user, appointment=old, slot_id=other_slot.pk, now=slot.start_at - datetime.timedelta(minutes=5)
        )


def test_new_slot_not_released_yet_is_refused(patient, slot, session, doctor):
    far = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=20)).slots.get()
    old = _book(patient, slot)
    with pytest.raises((errors.NotReleasedYet, errors.OutsideWindow)):
        reschedule_appointment(user=patient.user, appointment=old, slot_id=far.pk)
    assert _counts(slot) == [1]


def test_the_moved_appointment_does_not_count_against_limits(patient, slot, other_slot, rules):
    """With a limit of one active appointment, the move must still work (the old one is leaving)."""
    rules.max_active = 1
    rules.save()
    old = _book(patient, slot)
    new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    assert new.status == Status.PENDING_PAYMENT


def test_a_reschedule_is_not_a_cancellation(client, sandbox, patient, slot, other_slot):
    """Inside the late-cancel window no penalty is recorded."""
    old = _paid(client, patient, slot)
    reschedule_appointment(
        user=patient.user, appointment=old, slot_id=other_slot.pk, now=slot.start_at - datetime.timedelta(hours=3)
    )
    assert not Penalty.objects.exists()


def test_the_freed_place_goes_to_the_waitlist(patient, doctor, rules, other_slot, session):
    full = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=2), places=1).slots.get()
    old = _book(patient, full)
    waiting = PatientFactory()
    entry = join_waitlist(user=waiting.user, patient=waiting, schedule=full.schedule)
    reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.PROMOTED
    assert entry.appointment.slot_id == full.pk
    assert _counts(full) == [1]


def test_unpaid_order_keeps_its_deadline(patient, slot, other_slot):
    old = _book(patient, slot)
    new = reschedule_appointment(
        user=patient.user, appointment=old, slot_id=other_slot.pk, now=timezone.now() + datetime.timedelta(minutes=5)
    )
    assert new.status == Status.PENDING_PAYMENT
    assert new.payment_deadline == old.payment_deadline
    assert new.order_no != old.order_no


def test_sms_names_the_new_time(patient, slot, other_slot, django_capture_on_commit_callbacks):
    old = _book(patient, slot)
    with mock.patch("notifications.services.send_sms") as sent, django_capture_on_commit_callbacks(execute=True):
        new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    (call,) = [c for c in sent.call_args_list if c.kwargs["template"].startswith("booking_rescheduled")]
    assert call.kwargs["template"] == "booking_rescheduled_pending_payment"
    assert call.kwargs["params"]["time"] == new.estimated_at
    assert call.kwargs["params"]["old_time"] == old.estimated_at


def test_sms_text_is_rendered_and_logged(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    from notifications.models import NotificationLog

    old = _paid(client, patient, slot)
    with django_capture_on_commit_callbacks(execute=True):
        new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    log = NotificationLog.objects.get(template="booking_rescheduled")
    assert "改约至" in log.text and str(new.queue_number) in log.text and new.order_no in log.text


# ---------------------------------------------------------------------------------------------
# Money


def test_same_fee_carries_the_payment_over(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    order_no = old.order_no
    payments_before = list(Payment.objects.values_list("pk", "order_no", "status"))
    new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    old.refresh_from_db()
    assert new.status == Status.CONFIRMED and new.paid_at is not None
    assert new.order_no == order_no  # the payment is found by the order number, which moved
    assert old.order_no == f"{order_no}-1" and old.paid_at is None and old.refund_requested_at is None
    assert list(Payment.objects.values_list("pk", "order_no", "status")) == payments_before
    assert not Refund.objects.exists()


def test_cancelling_a_moved_paid_order_refunds_its_payment(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    from booking.services import cancel_appointment

    new = reschedule_appointment(user=patient.user, appointment=_paid(client, patient, slot), slot_id=other_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=new)
    refund = Refund.objects.get()
    assert refund.payment.order_no == new.order_no and refund.amount_fen == new.fee_fen


# A paid order moving to a higher fee: booking/tests/test_reschedule_difference.py


def test_lower_fee_carries_the_payment_and_refunds_only_the_difference(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    order_no, paid_fen = old.order_no, old.fee_fen
    _set_fee(other_slot, paid_fen - 500)
    with django_capture_on_commit_callbacks(execute=True):
        new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.status == Status.CONFIRMED and new.order_no == order_no and new.paid_at is not None
    assert old.status == Status.RESCHEDULED and old.refund_requested_at is None
    refund = Refund.objects.get()
    assert refund.amount_fen == 500 and refund.status == Refund.Status.SUCCEEDED  # the sandbox refunds at once
    payment = refund.payment
    assert payment.order_no == order_no and payment.amount_fen == paid_fen
    assert payment.status == Payment.Status.PAID and payment.refund_reserved_fen == 500  # not "refunded"


def test_cancel_after_a_lower_fee_move_refunds_only_the_remainder(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    from booking.services import cancel_appointment

    old = _paid(client, patient, slot)
    paid_fen = old.fee_fen
    _set_fee(other_slot, paid_fen - 500)
    with django_capture_on_commit_callbacks(execute=True):
        new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=new)
    amounts = sorted(Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list("amount_fen", flat=True))
    assert amounts == sorted([500, paid_fen - 500]) and sum(amounts) == paid_fen
    assert Payment.objects.get().status == Payment.Status.REFUNDED
    new.refresh_from_db()
    assert new.status == Status.REFUNDED


def test_lower_fee_refund_waits_for_the_commit(client, sandbox, patient, slot, other_slot):
    """The partial refund is recorded with the move; the provider is asked only after the commit."""
    old = _paid(client, patient, slot)
    _set_fee(other_slot, old.fee_fen - 500)
    with mock.patch("payments.services.submit_refund") as submit:
        reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    submit.assert_not_called()  # the test's transaction never commits
    refund = Refund.objects.get()
    assert refund.amount_fen == 500 and refund.status == Refund.Status.PENDING


def test_free_new_slot_confirms_and_refunds(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    from booking.services import cancel_appointment

    old = _paid(client, patient, slot)
    _set_fee(other_slot, 0)
    with django_capture_on_commit_callbacks(execute=True):
        new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    new.refresh_from_db()
    assert new.status == Status.CONFIRMED and new.fee_fen == 0 and new.paid_at is None
    assert Refund.objects.get().amount_fen == old.fee_fen
    assert Payment.objects.get().status == Payment.Status.REFUNDED
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=new)
    assert Refund.objects.count() == 1  # nothing more to give back


def test_api_lower_fee_reports_the_difference(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    _set_fee(other_slot, old.fee_fen - 300)
    client.force_login(patient.user)
    response = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["order_no"] == old.order_no and body["status"] == "confirmed"
    assert body["amount_due_fen"] == 0 and body["refund_fen"] == 300


def test_open_payments_of_an_unpaid_moved_order_are_closed(
    sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _book(patient, slot)
    started = pay_appointment(user=patient.user, appointment=old, provider="sandbox", method="page")
    with django_capture_on_commit_callbacks(execute=True):
        new = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    started.payment.refresh_from_db()
    assert started.payment.status == Payment.Status.CLOSED
    assert new.order_no != old.order_no  # the new order is paid afresh
    assert pay_appointment(user=patient.user, appointment=new, provider="sandbox", method="page").payment.order_no == (
        new.order_no
    )


def test_late_money_for_an_unpaid_moved_order_is_refunded(patient, slot, other_slot):
    from booking.services import record_payment

    old = _book(patient, slot)
    reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    record_payment(order_no=old.order_no, amount_fen=old.fee_fen, paid_at=timezone.now())
    old.refresh_from_db()
    assert old.status == Status.RESCHEDULED and old.refund_requested_at is not None


# ---------------------------------------------------------------------------------------------
# Idempotency


def test_retry_with_the_same_key_returns_the_first_result(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    first = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk, idempotency_key="k1")
    # the client retries with the same URL: the order number now names the new appointment
    again = reschedule_appointment(
        user=patient.user,
        appointment=Appointment.objects.get(order_no=old.order_no),
        slot_id=other_slot.pk,
        idempotency_key="k1",
    )
    assert again.pk == first.pk
    assert _counts(slot, other_slot) == [0, 1]


def test_the_same_key_for_another_request_is_refused(patient, slot, other_slot, session, doctor):
    third = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=2)).slots.get()
    old = _book(patient, slot)
    reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk, idempotency_key="k2")
    with pytest.raises(errors.IdempotencyKeyReused):
        reschedule_appointment(user=patient.user, appointment=old, slot_id=third.pk, idempotency_key="k2")


# ---------------------------------------------------------------------------------------------
# Races (real threads, PostgreSQL)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(5))
def test_reschedule_races_a_booking_for_the_last_place(attempt):
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    home = make_session(doctor=doctor, places=3).slots.get()
    last = make_session(doctor=doctor, date=home.schedule.date + datetime.timedelta(days=1), places=1).slots.get()
    mover, rival = PatientFactory(), PatientFactory()
    old = book_slot(user=mover.user, patient=mover, slot=home)

    outcomes = run_concurrently(
        [
            lambda: reschedule_appointment(user=mover.user, appointment=old, slot_id=last.pk),
            lambda: book_slot(user=rival.user, patient=rival, slot=last),
        ]
    )
    assert not any(isinstance(o, str) and o.startswith("crash") for o in outcomes), outcomes
    won = [o for o in outcomes if isinstance(o, Appointment)]
    assert len(won) == 1 and outcomes.count("slot_full") == 1, outcomes
    home.refresh_from_db()
    last.refresh_from_db()
    assert last.booked == 1
    mover_active = Appointment.objects.filter(patient=mover, status__in=Appointment.ACTIVE)
    assert mover_active.count() == 1  # never both, never neither
    if won[0].patient_id == mover.pk:
        assert home.booked == 0 and mover_active.get().slot_id == last.pk
    else:
        assert home.booked == 1 and mover_active.get().pk == old.pk
    for slot in (home, last):
        holding = Appointment.objects.filter(slot=slot, status__in=Appointment.PLACE_HOLDING).count()
        assert holding == slot.booked


# ---------------------------------------------------------------------------------------------
# The API: POST /api/v1/appointments/{order_no}/reschedule/


def _url(order_no):
    return f"/api/v1/appointments/{order_no}/reschedule/"


def test_api_reschedules_the_callers_appointment(client, patient, slot, other_slot):
    old = _book(patient, slot)
    client.force_login(patient.user)
    response = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    new = Appointment.objects.get(order_no=body["order_no"])
    assert new.slot_id == other_slot.pk
    assert body["status"] == "pending_payment" and body["amount_due_fen"] == new.fee_fen
    assert body["rescheduled_from"] == old.order_no and body["refund_fen"] == 0
    assert {"fee_fen", "queue_number", "estimated_at", "pay_deadline"} <= set(body)


def test_api_paid_same_fee_keeps_the_order_number(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    client.force_login(patient.user)
    response = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json")
    body = response.json()
    assert response.status_code == 201
    assert body["order_no"] == old.order_no and body["status"] == "confirmed" and body["amount_due_fen"] == 0
    assert body["rescheduled_from"] == f"{old.order_no}-1"


def test_api_another_users_order_is_404(client, patient, slot, other_slot, outsider):
    old = _book(patient, slot)
    client.force_login(outsider)
    response = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json")
    assert response.status_code == 404 and response.json()["code"]
    assert _counts(slot, other_slot) == [1, 0]


def test_api_needs_authentication(client, patient, slot, other_slot):
    old = _book(patient, slot)
    response = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json")
    assert response.status_code == 401


def test_api_full_slot_is_409_and_the_old_stays(client, patient, slot, doctor, session):
    full = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=1), places=1).slots.get()
    _book(PatientFactory(), full)
    old = _book(patient, slot)
    client.force_login(patient.user)
    response = client.post(_url(old.order_no), {"slot": full.pk}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "slot_full"
    old.refresh_from_db()
    assert old.status == Status.PENDING_PAYMENT


def test_api_limit_reached_is_409(client, patient, slot, other_slot, session, doctor):
    third = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=2)).slots.get()
    client.force_login(patient.user)
    first = client.post(_url(_book(patient, slot).order_no), {"slot": other_slot.pk}, content_type="application/json")
    second = client.post(_url(first.json()["order_no"]), {"slot": third.pk}, content_type="application/json")
    assert second.status_code == 409 and second.json()["code"] == "reschedule_limit_reached"


@pytest.mark.parametrize("payload", [{}, {"slot": "x"}, {"slot": 0}, {"slot": 2**70}, {"slot": None}])
def test_api_bad_input_is_400(client, patient, slot, payload):
    old = _book(patient, slot)
    client.force_login(patient.user)
    response = client.post(_url(old.order_no), payload, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_api_unknown_slot_is_409(client, patient, slot):
    old = _book(patient, slot)
    client.force_login(patient.user)
    response = client.post(_url(old.order_no), {"slot": 2**62}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "reschedule_not_allowed"


def test_api_idempotent_retry_and_reused_key(client, patient, slot, other_slot, session, doctor):
    third = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=2)).slots.get()
    old = _book(patient, slot)
    client.force_login(patient.user)
    headers = {"Idempotency-Key": "move-1"}
    first = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json", headers=headers)
    again = client.post(_url(old.order_no), {"slot": other_slot.pk}, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert _counts(slot, other_slot) == [0, 1]
    reused = client.post(_url(old.order_no), {"slot": third.pk}, content_type="application/json", headers=headers)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


def test_api_overlong_idempotency_key_is_400(client, patient, slot, other_slot):
    old = _book(patient, slot)
    client.force_login(patient.user)
    response = client.post(
        _url(old.order_no),
        {"slot": other_slot.pk},
        content_type="application/json",
        headers={"Idempotency-Key": "k" * 65},
    )
    assert response.status_code == 400


def test_api_reschedule_is_throttled(client, patient, slot, monkeypatch):
    from django.core.cache import cache

    from config.throttling import BookingRateThrottle

    # DRF reads the rates once, into the class: a tighter booking rate for this test only.
    monkeypatch.setattr(
        BookingRateThrottle, "THROTTLE_RATES", {**BookingRateThrottle.THROTTLE_RATES, "booking": "2/min"}
    )
    cache.clear()
    old = _book(patient, slot)
    client.force_login(patient.user)
    codes = [
        client.post(_url(old.order_no), {"slot": slot.pk}, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert codes == [409, 409, 429]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_double_submitted_reschedule_moves_once():
    doctor = DoctorFactory(registration_fee_fen=2000)
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    home = make_session(doctor=doctor, places=2).slots.get()
    day_after = home.schedule.date + datetime.timedelta(days=1)
    there = make_session(doctor=doctor, date=day_after, places=2).slots.get()
    mover = PatientFactory()
    old = book_slot(user=mover.user, patient=mover, slot=home)

    outcomes = run_concurrently(
        [lambda: reschedule_appointment(user=mover.user, appointment=old, slot_id=there.pk) for _ in range(3)]
    )
    assert len([o for o in outcomes if isinstance(o, Appointment)]) == 1, outcomes
    assert outcomes.count("reschedule_not_allowed") == 2, outcomes
    home.refresh_from_db()
    there.refresh_from_db()
    assert (home.booked, there.booked) == (0, 1)
    assert Appointment.objects.filter(patient=mover, status__in=Appointment.ACTIVE).count() == 1
