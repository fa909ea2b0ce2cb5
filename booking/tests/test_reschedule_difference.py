"""改约 of a paid order to a dearer place: the new place is held, the difference is its own charge
of the same order, and the patient never holds neither place."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors
from booking.models import Appointment
from booking.services import (
    book_slot,
    cancel_appointment,
    expire_held_move,
    expire_unpaid,
    pay_appointment,
    record_difference_payment,
    reschedule_appointment,
    suspend_schedule,
)
from booking.tests.conftest import ALL_ONLINE, run_concurrently
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from payments.models import Payment, Refund
from payments.providers.sandbox import build_paid_notification
from payments.services import receive_payment_notification
from scheduling.models import Period, Schedule, Slot
from scheduling.tests.factories import make_session

Status = Appointment.Status
DIFFERENCE = 1000


@pytest.fixture
def other_slot(session, doctor):
    """The same doctor, the next day, 10 yuan dearer."""
    slot = make_session(doctor=doctor, date=session.date + datetime.timedelta(days=1), places=5).slots.get()
    Schedule.objects.filter(pk=slot.schedule_id).update(fee_fen=session.fee_fen + DIFFERENCE)
    slot.refresh_from_db()
    return slot


def _paid(client, patient, slot):
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="sandbox", method="page")
    client.post(started.redirect_url)
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    return appointment


def _counts(*slots):
    return [Slot.objects.get(pk=s.pk).booked for s in slots]


def _pay_difference(client, patient, order):
    started = pay_appointment(user=patient.user, appointment=order, provider="sandbox", method="page")
    client.post(started.redirect_url)
    return started.payment


def _state(appointment):
    appointment.refresh_from_db()
    return appointment.order_no, appointment.status, appointment.paid_at, appointment.slot_id


# ---------------------------------------------------------------------------------------------
# Holding the new place


def test_a_dearer_move_holds_the_new_place_and_the_old_stands(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    before = _state(old)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    assert held.status == Status.AWAITING_DIFFERENCE and held.moving_from_id == old.pk
    assert held.difference_fen == DIFFERENCE and held.fee_fen == old.fee_fen + DIFFERENCE
    assert held.payment_deadline > timezone.now() and held.queue_number == 1
    assert _state(old) == before  # still confirmed, paid, in its place
    assert _counts(slot, other_slot) == [1, 1]
    assert not Refund.objects.exists()


def test_asking_again_for_the_same_place_returns_the_held_move(client, sandbox, patient, slot, other_slot, session):
    old = _paid(client, patient, slot)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    assert reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk).pk == held.pk
    third = make_session(doctor=old.doctor, date=session.date + datetime.timedelta(days=2), places=5).slots.get()
    with pytest.raises(errors.RescheduleNotAllowed):
        reschedule_appointment(user=patient.user, appointment=old, slot_id=third.pk)
    assert _counts(other_slot, third) == [1, 0]


def test_a_free_confirmed_order_owes_the_whole_new_fee(client, sandbox, patient, slot, other_slot):
    Schedule.objects.filter(pk=slot.schedule_id).update(fee_fen=0)
    old = book_slot(user=patient.user, patient=patient, slot=slot)
    assert old.status == Status.CONFIRMED and old.paid_at is None
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    assert held.status == Status.AWAITING_DIFFERENCE and held.difference_fen == held.fee_fen
    _pay_difference(client, patient, old)
    held.refresh_from_db()
    assert held.status == Status.CONFIRMED and held.paid_at is not None and held.order_no == old.order_no


# ---------------------------------------------------------------------------------------------
# Paying the difference completes the move


def test_paying_the_difference_completes_the_move_with_both_payments_on_the_order(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    order_no, paid_at = old.order_no, old.paid_at
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        supplement = _pay_difference(client, patient, old)
    assert supplement.order_no == order_no and supplement.charge == held.difference_charge
    assert supplement.amount_fen == DIFFERENCE
    old.refresh_from_db()
    held.refresh_from_db()
    assert old.status == Status.RESCHEDULED and old.order_no == f"{order_no}-1" and old.paid_at is None
    assert held.status == Status.CONFIRMED and held.order_no == order_no and held.paid_at == paid_at
    assert held.rescheduled_from_id == old.pk and held.reschedule_count == 1
    assert _counts(slot, other_slot) == [0, 1]
    payments = Payment.objects.filter(order_no=order_no).order_by("pk")
    assert [(p.charge, p.amount_fen, p.status) for p in payments] == [
        ("", old.fee_fen, Payment.Status.PAID),
        (held.difference_charge, DIFFERENCE, Payment.Status.PAID),
    ]
    assert sum(p.amount_fen for p in payments) == held.fee_fen
    assert not Refund.objects.exists()


def test_paying_through_the_held_row_pays_the_same_difference(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    started = pay_appointment(user=patient.user, appointment=held, provider="sandbox", method="page")
    assert (started.payment.order_no, started.payment.charge) == (old.order_no, held.difference_charge)
    assert pay_appointment(user=patient.user, appointment=old, provider="sandbox", method="page").payment == (
        started.payment
    )


def test_a_stranger_cannot_pay_the_difference(client, sandbox, patient, slot, other_slot, outsider):
    old = _paid(client, patient, slot)
    reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    with pytest.raises(errors.NotOwner):
        pay_appointment(user=outsider, appointment=old, provider="sandbox", method="page")


def test_a_move_within_the_same_doctors_day_completes(client, sandbox, patient, doctor, rules):
    session = make_session(doctor=doctor, period=Period.MORNING, places=4, segments=2)
    first, second = session.slots.order_by("start_at")
    old = _paid(client, patient, first)
    Schedule.objects.filter(pk=session.pk).update(fee_fen=session.fee_fen + DIFFERENCE)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=second.pk)
    assert held.status == Status.AWAITING_DIFFERENCE  # not "active": the one-per-doctor-per-day rule sees the old
    _pay_difference(client, patient, old)
    held.refresh_from_db()
    assert held.status == Status.CONFIRMED and held.slot_id == second.pk
    assert _counts(first, second) == [0, 1]


def test_the_patient_takes_the_new_day_meanwhile_so_the_difference_is_refunded(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    """The held place is not an active booking, so the patient may book that doctor's new day in
    another way meanwhile; paying the difference then cannot complete the move: it is refunded."""
    old = _paid(client, patient, slot)
    before = _state(old)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    other = book_slot(user=patient.user, patient=patient, slot=other_slot)
    with django_capture_on_commit_callbacks(execute=True):
        _pay_difference(client, patient, old)
    held.refresh_from_db()
    assert held.status == Status.EXPIRED and _state(old) == before
    assert Appointment.objects.get(pk=other.pk).status == Status.PENDING_PAYMENT
    assert _counts(slot, other_slot) == [1, 1]
    refund = Refund.objects.get()
    assert refund.payment.charge == held.difference_charge and refund.amount_fen == DIFFERENCE
    assert refund.status == Refund.Status.SUCCEEDED


# ---------------------------------------------------------------------------------------------
# Not paid in time: the held place goes back, the old appointment stands


def test_an_unpaid_difference_expires_and_the_old_stands(client, sandbox, patient, slot, other_slot):
    old = _paid(client, patient, slot)
    before = _state(old)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    started = pay_appointment(user=patient.user, appointment=old, provider="sandbox", method="page")
    assert expire_unpaid(now=held.payment_deadline - datetime.timedelta(seconds=1)) == 0
    assert expire_unpaid(now=held.payment_deadline + datetime.timedelta(seconds=1)) == 1
    held.refresh_from_db()
    assert held.status == Status.EXPIRED
    assert _state(old) == before
    assert _counts(slot, other_slot) == [1, 0]
    started.payment.refresh_from_db()
    assert started.payment.status == Payment.Status.CLOSED
    assert expire_unpaid(now=held.payment_deadline + datetime.timedelta(minutes=5)) == 0  # idempotent
    assert _counts(slot, other_slot) == [1, 0]
    # The old order may move again.
    again = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    assert again.status == Status.AWAITING_DIFFERENCE and again.pk != held.pk


def test_money_for_an_expired_move_is_refunded_and_the_old_stands(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    before = _state(old)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    started = pay_appointment(user=patient.user, appointment=old, provider="sandbox", method="page")
    expire_unpaid(now=held.payment_deadline + datetime.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):  # the payer's money arrives after the close
        receive_payment_notification(provider="sandbox", incoming=build_paid_notification(started.payment))
    assert _state(old) == before and _counts(slot, other_slot) == [1, 0]
    refund = Refund.objects.get()
    assert refund.payment.pk == started.payment.pk and refund.status == Refund.Status.SUCCEEDED
    assert Payment.objects.get(order_no=old.order_no, charge="").status == Payment.Status.PAID  # the fee is kept


def test_cancelling_the_old_gives_the_held_place_back_at_the_next_sweep(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=old)
    assert expire_unpaid(now=timezone.now()) == 1  # before the deadline: the move can no longer complete
    held.refresh_from_db()
    assert held.status == Status.EXPIRED and _counts(slot, other_slot) == [0, 0]
    with pytest.raises(errors.InvalidStatus):
        pay_appointment(user=patient.user, appointment=held, provider="sandbox", method="page")


def test_a_suspended_new_session_gives_the_held_place_back(client, sandbox, patient, slot, other_slot, scheduler):
    old = _paid(client, patient, slot)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    suspend_schedule(schedule=other_slot.schedule, reason="会议", by=scheduler)
    assert expire_held_move(appointment_id=held.pk) is True
    old.refresh_from_db()
    assert old.status == Status.CONFIRMED and Slot.objects.get(pk=other_slot.pk).booked == 0


# ---------------------------------------------------------------------------------------------
# Cancelling after a paid move gives back both charges


def test_cancel_after_a_paid_move_refunds_both_charges_in_full(
    client, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        _pay_difference(client, patient, old)
    moved = Appointment.objects.get(order_no=old.order_no)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=moved)
    refunds = Refund.objects.filter(payment__order_no=moved.order_no)
    assert sorted(refunds.values_list("amount_fen", "status")) == sorted(
        [(old.fee_fen, Refund.Status.SUCCEEDED), (DIFFERENCE, Refund.Status.SUCCEEDED)]
    )
    paid_in = sum(Payment.objects.filter(order_no=moved.order_no).values_list("amount_fen", flat=True))
    assert paid_in == sum(refunds.values_list("amount_fen", flat=True)) == moved.fee_fen
    assert set(Payment.objects.filter(order_no=moved.order_no).values_list("status", flat=True)) == {
        Payment.Status.REFUNDED
    }
    moved.refresh_from_db()
    assert moved.status == Status.REFUNDED and moved.refunded_at is not None


def test_a_later_cheaper_move_refunds_across_both_charges(
    client, sandbox, patient, slot, other_slot, session, rules, django_capture_on_commit_callbacks
):
    rules.max_reschedules = 2
    rules.save()
    old = _paid(client, patient, slot)
    reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        _pay_difference(client, patient, old)
    moved = Appointment.objects.get(order_no=old.order_no)
    cheap = make_session(doctor=old.doctor, date=session.date + datetime.timedelta(days=2), places=5).slots.get()
    Schedule.objects.filter(pk=cheap.schedule_id).update(fee_fen=100)
    with django_capture_on_commit_callbacks(execute=True):
        last = reschedule_appointment(user=patient.user, appointment=moved, slot_id=cheap.pk)
    refunded = sum(Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list("amount_fen", flat=True))
    assert last.status == Status.CONFIRMED and refunded == moved.fee_fen - 100
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=last)
    refunded = sum(Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list("amount_fen", flat=True))
    assert refunded == old.fee_fen + DIFFERENCE


# ---------------------------------------------------------------------------------------------
# The providers' notifications settle the difference; replays and forgeries change nothing


def test_an_alipay_notification_settles_the_difference_once(
    client, alipay, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    payment = pay_appointment(user=patient.user, appointment=old, provider="alipay", method="wap").payment
    alipay.buyer_pays(payment)
    form = alipay.notification(payment)
    forged = {**form, "total_amount": "0.01"}
    assert client.post("/payments/notify/alipay/", data=forged).status_code == 400
    held.refresh_from_db()
    assert held.status == Status.AWAITING_DIFFERENCE
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/payments/notify/alipay/", data=form).status_code == 200
        assert client.post("/payments/notify/alipay/", data=form).status_code == 200  # replayed
    held.refresh_from_db()
    assert held.status == Status.CONFIRMED and held.order_no == old.order_no
    assert _counts(slot, other_slot) == [0, 1] and not Refund.objects.exists()


def test_a_wechat_notification_settles_the_difference_once(
    client, wechat, sandbox, patient, slot, other_slot, django_capture_on_commit_callbacks
):
    old = _paid(client, patient, slot)
    held = reschedule_appointment(user=patient.user, appointment=old, slot_id=other_slot.pk)
    started = pay_appointment(user=patient.user, appointment=old, provider="wechat", method="native")
    assert started.code_url.startswith("weixin://")
    body, headers = wechat.notification(started.payment)
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    with django_capture_on_commit_callbacks(execute=True):
        for _attempt in range(2):  # the second is a replay
            response = client.post(
                "/payments/notify/wechat/", data=body, content_type="application/json", headers=headers
            )
            assert response.status_code in (200, 204)
    held.refresh_from_db()
    assert held.status == Status.CONFIRMED and _counts(slot, other_slot) == [0, 1]
    assert Payment.objects.filter(order_no=old.order_no, status=Payment.Status.PAID).count() == 2


def test_a_charge_that_is_no_held_move_is_ignored(patient):
    assert record_difference_payment(order_no="x", charge="other", amount_fen=1, paid_at=timezone.now()) is None


# ---------------------------------------------------------------------------------------------
# The race: the difference's notification against the deadline sweep


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(4))
def test_the_differences_notification_races_the_expiry_sweep(attempt, settings):
    settings.PAYMENTS_SANDBOX = True
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)
    first = make_session(doctor=doctor, places=3)
    second = make_session(doctor=doctor, date=first.date + datetime.timedelta(days=1), places=1)
    Schedule.objects.filter(pk=second.pk).update(fee_fen=first.fee_fen + DIFFERENCE)
    slot, dear = first.slots.get(), second.slots.get()
    patient = PatientFactory()
    order = book_slot(user=patient.user, patient=patient, slot=slot)
    paid = pay_appointment(user=patient.user, appointment=order, provider="sandbox", method="page").payment
    receive_payment_notification(provider="sandbox", incoming=build_paid_notification(paid))
    held = reschedule_appointment(user=patient.user, appointment=order, slot_id=dear.pk)
    supplement = pay_appointment(user=patient.user, appointment=order, provider="sandbox", method="page").payment
    after_deadline = held.payment_deadline + datetime.timedelta(seconds=1)

    outcomes = run_concurrently(
        [
            lambda: receive_payment_notification(provider="sandbox", incoming=build_paid_notification(supplement)),
            lambda: expire_unpaid(now=after_deadline),
        ]
    )
    assert not any(str(outcome).startswith("crash") for outcome in outcomes), outcomes

    held.refresh_from_db()
    order.refresh_from_db()
    moved = held.status == Status.CONFIRMED
    assert held.status in (Status.CONFIRMED, Status.EXPIRED)
    refunds = Refund.objects.filter(payment__order_no__startswith=order.order_no[:24])
    if moved:  # the money won: the move is made, the old place given back, nothing refunded
        assert order.status == Status.RESCHEDULED and held.order_no == order.order_no[:24]
        assert _counts(slot, dear) == [0, 1] and not refunds.exists()
    else:  # the sweep won: the old stands, the held place is back, the late money is refunded
        assert order.status == Status.CONFIRMED and order.paid_at is not None
        assert _counts(slot, dear) == [1, 0]
        assert [(r.payment.charge, r.amount_fen) for r in refunds] == [(held.difference_charge, DIFFERENCE)]
    holding = Appointment.objects.filter(status__in=Appointment.PLACE_HOLDING)
    assert holding.filter(slot=slot).count() + holding.filter(slot=dear).count() == 1  # never neither, never both
    assert _counts(slot, dear) == [holding.filter(slot=slot).count(), holding.filter(slot=dear).count()]


# ---------------------------------------------------------------------------------------------
# The API: POST /api/v1/appointments/{order_no}/reschedule/ and …/pay/


def _api(client, order_no, action, body):
    return client.post(f"/api/v1/appointments/{order_no}/{action}/", body, content_type="application/json")


def test_api_answers_the_difference_and_how_to_pay_it(
    client, sandbox, patient, slot, other_slot, django_assert_max_num_queries
):
    old = _paid(client, patient, slot)
    client.force_login(patient.user)
    with django_assert_max_num_queries(30):
        response = _api(client, old.order_no, "reschedule", {"slot": other_slot.pk, "provider": "sandbox"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["order_no"] == old.order_no and body["rescheduled_from"] == old.order_no
    assert body["status"] == "awaiting_difference" and body["slot"] == other_slot.pk
    assert body["amount_due_fen"] == DIFFERENCE and body["refund_fen"] == 0 and body["pay_deadline"]
    payment = body["payment"]
    assert payment["provider"] == "sandbox" and payment["method"] == "page" and payment["amount_fen"] == DIFFERENCE
    assert payment["redirect_url"] and payment["code_url"] == ""
    client.post(payment["redirect_url"])  # the payer pays on the sandbox page
    moved = client.get(f"/api/v1/appointments/{old.order_no}/").json()
    assert moved["status"] == "confirmed" and Appointment.objects.get(order_no=old.order_no).slot_id == other_slot.pk


def test_api_pay_pays_an_outstanding_difference(client, sandbox, patient, slot, other_slot, outsider):
    old = _paid(client, patient, slot)
    client.force_login(patient.user)
    body = _api(client, old.order_no, "reschedule", {"slot": other_slot.pk}).json()
    assert body["payment"] is None and body["amount_due_fen"] == DIFFERENCE
    response = _api(client, old.order_no, "pay", {"provider": "sandbox"})
    assert response.status_code == 200, response.content
    paid = response.json()
    assert paid["amount_fen"] == DIFFERENCE and paid["redirect_url"]
    assert Payment.objects.get(out_trade_no=paid["payment_no"]).charge.startswith("move-")
    client.force_login(outsider)
    assert _api(client, old.order_no, "pay", {"provider": "sandbox"}).status_code == 404


def test_api_repeating_the_move_answers_the_held_one_and_a_bad_provider_is_400(
    client, sandbox, patient, slot, other_slot
):
    old = _paid(client, patient, slot)
    client.force_login(patient.user)
    first = _api(client, old.order_no, "reschedule", {"slot": other_slot.pk}).json()
    again = _api(client, old.order_no, "reschedule", {"slot": other_slot.pk, "provider": "sandbox"})
    assert again.status_code == 201 and again.json()["queue_number"] == first["queue_number"]
    assert again.json()["payment"]["amount_fen"] == DIFFERENCE
    bad = _api(client, old.order_no, "reschedule", {"slot": other_slot.pk, "provider": "paypal"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert _counts(slot, other_slot) == [1, 1]
