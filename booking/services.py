"""The booking life cycle: book, cancel, expire, 停诊, check in, penalties, the waitlist, money.

Locks, places and numbering are in booking.places (its docstring has the lock order); who may
book and the rule checks are in booking.eligibility.
"""

import datetime
import hashlib
import logging

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Patient
from booking import attempts, eligibility, errors, notices, places
from booking import places as booking_places
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from booking.selectors import active_ban
from hospital import audit
from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import AuditRecord, HospitalStaff
from hospital.roles import may_manage_schedule, may_waive_penalties, staff_role
from scheduling.models import RESERVE_RELEASE_FLAGS, Schedule, Slot, SlotAdjustment, release_moments

logger = logging.getLogger(__name__)

Status = Appointment.Status
Action = AuditRecord.Action
# The day screen may mark a confirmed patient 爽约 this long after their estimated time; the clock
# marks the rest once the session has ended.
NO_SHOW_GRACE = datetime.timedelta(minutes=30)

# ---------------------------------------------------------------------------------------------
# Booking


@attempts.counted  # the release-minute success share (抢号成功率) counts every online attempt's outcome
def book_slot(
    *,
    user,
    patient: Patient | int,
    slot: Slot | int,
    channel: str = Channel.ONLINE,
    idempotency_key: str | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Book a place in a first-come-first-served slot for `patient`, in `channel`.

    The same `idempotency_key` from the same account with the same request (patient, slot,
    channel) returns the first result instead of booking again; with another request it is
    refused (`IdempotencyKeyReused`), never answered with someone else's order. Keys belong to
    the account that sent them: a partner's to its one service account.

    `patient` and `slot` may be ids, as a request body gives them (not for the staff channels):
    a slot or a patient that does not exist, or a patient the account may not book for, is then
    `UnknownSlot` / `UnknownPatient` (404: another account's patient looks like no patient), and
    nothing is read before the sold-out mark is asked.

    The release minute: an attempt on a slot the cache knows is sold out is refused without a
    database transaction, and with ids without any SQL (see booking.places); a winning booking
    is at most 8 SQL statements.
    """
    if not isinstance(patient, Patient) and channel in places.STAFF_CHANNELS:
        raise TypeError("the window and the clinic book for a patient object they have checked")
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    slot_id = slot.pk if isinstance(slot, Slot) else slot
    body = ""
    if idempotency_key:
        body = idempotency_fingerprint(patient_id=patient_id, slot_id=slot_id, channel=channel)
        existing = _original_for_key(user=user, idempotency_key=idempotency_key)
        if existing is not None:
            return _replay(existing, body=body)
    # Online attempts are counted (booking.attempts): one refused on the mark is counted with its read.
    count_at = ((now or timezone.now()).timestamp()) if channel == Channel.ONLINE else None
    schedule_id = places.sold_out_schedule(slot_id=slot_id, channel=channel, count_at=count_at)
    if schedule_id is not None:  # no transaction: the database said "full" a moment ago
        places.raise_slot_full(channel=channel, schedule_id=schedule_id, counted=count_at is not None)
    for _attempt in range(3):
        try:
            return _book_slot(
                user=user,
                patient=patient,
                slot_id=slot_id,
                channel=channel,
                idempotency_key=idempotency_key,
                idempotency_body=body,
                now=now,
            )
        except places.IdempotentReplay:
            return _replay(_original_for_key(user=user, idempotency_key=idempotency_key), body=body)
        except IntegrityError as exc:  # the order's INSERT without a savepoint (PostgreSQL), rolled back
            conflict = places.conflict_of(exc)
            if isinstance(conflict, places.IdempotentReplay):
                return _replay(_original_for_key(user=user, idempotency_key=idempotency_key), body=body)
            if conflict is not None:
                raise conflict from exc
            # An order number drawn twice: book again.
    raise RuntimeError("could not draw a unique order number")


def idempotency_fingerprint(*, patient_id: int, slot_id: int, channel: str) -> str:
    """The hash of a booking request's body, stored beside its idempotency key."""
    return hashlib.sha256(f"{patient_id}:{slot_id}:{channel}".encode()).hexdigest()


def _original_for_key(*, user, idempotency_key: str) -> Appointment | None:
    return Appointment.objects.filter(booked_by_id=user.pk, idempotency_key=idempotency_key).first()


def _replay(existing: Appointment, *, body: str) -> Appointment:
    stored = existing.idempotency_body or idempotency_fingerprint(
        patient_id=existing.patient_id, slot_id=existing.slot_id, channel=existing.channel
    )
    if stored != body:
        raise errors.IdempotencyKeyReused()
    return existing


def _replayed(*, user, idempotency_key: str) -> bool:
    return Appointment.objects.filter(booked_by_id=user.pk, idempotency_key=idempotency_key).exists()


@transaction.atomic
def _book_slot(*, user, patient, slot_id, channel, idempotency_key, idempotency_body, now) -> Appointment:
    """The booking transaction. Its statements, for a winner: the slot (with session, doctor,
    department), the person's lock, the patient, bans, the person's counts, the conditional
    UPDATE, the numbers in use, the INSERT. The rules come from the cache.

    `patient` is a Patient, or an id (checked once it is read under the person's lock)."""
    now = now or timezone.now()
    try:
        slot = places.load_slot(slot_id)
    except Slot.DoesNotExist:
        raise errors.UnknownSlot() from None
    schedule = slot.schedule
    hospital_id = schedule.doctor.hospital_id
    partner = None
    if isinstance(patient, Patient):
        partner = eligibility.check_actor(user=user, patient=patient, channel=channel, hospital_id=hospital_id)
    if schedule.status != Schedule.Status.PUBLISHED or not slot.is_open:
        raise errors.ScheduleUnavailable()
    if schedule.uses_requests and schedule.drawn_at is None and channel not in places.STAFF_CHANNELS:
        raise errors.RequestsOnly()  # after the draw, places left over are booked first come first served
    rules = eligibility.schedule_rules(schedule)
    eligibility.check_timing(schedule=schedule, slot=slot, channel=channel, rules=rules, now=now)
    try:
        if slot.free_of(channel) <= 0 and not (channel in places.STAFF_CHANNELS and slot.channel_released(channel)):
            # Fast refusal in the rush: the row we just read is already full. (A free place read here
            # proves nothing; only the conditional UPDATE in places.place_appointment decides who gets it.)
            places.mark_sold_out(slot=slot, channel=channel)
            places.raise_slot_full(channel=channel, schedule_id=slot.schedule_id)  # closed ones were refused above
        if isinstance(patient, Patient):
            places.lock_person(patient)
            patient = Patient.objects.get(pk=patient.pk)
        else:
            patient = places.lock_patient(patient)
            if patient is None or not eligibility.books_for(user=user, patient=patient):
                raise errors.UnknownPatient()
            partner = eligibility.check_actor(user=user, patient=patient, channel=channel, hospital_id=hospital_id)
        eligibility.check_person(patient=patient, schedule=schedule, rules=rules, channel=channel, now=now)
        appointment = places.place_appointment(
            slot=slot,
            patient=patient,
            channel=channel,
            user=user,
            partner=partner,
            rules=rules,
            now=now,
            payment_minutes=rules.payment_timeout_minutes,
            idempotency_key=idempotency_key,
            idempotency_body=idempotency_body,
            savepoint=connection.vendor != "postgresql",
        )
    except errors.BookingError:
        # A retry whose first attempt committed meanwhile (it took the last place, or it is now the
        # person's booking with this doctor that day) gets that first result, not a refusal.
        if idempotency_key and _replayed(user=user, idempotency_key=idempotency_key):
            raise places.IdempotentReplay() from None
        raise
    notices.appointment_booked(appointment)
    return appointment


# ---------------------------------------------------------------------------------------------
# 改约 (reschedule)

RESCHEDULABLE = (Status.PENDING_PAYMENT, Status.CONFIRMED)


def reschedule_appointment(
    *,
    user,
    appointment: Appointment,
    slot_id: int,
    idempotency_key: str | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """改约: move an appointment to another segment or another day of the same doctor; returns the new one.

    One transaction: the new place is taken before the old one is given back, so a full new slot
    (`SlotFull`) leaves the old appointment exactly as it was, and the patient never holds neither.
    The new slot is checked like a booking (release, window, timing, bans, limits), except that the
    appointment being moved counts against neither the limits nor one-per-doctor-per-day. It is
    not a cancellation: no late-cancel record, and the freed place goes to the waitlist as usual.

    Money: a paid order moving to a place of the same or a lower fee keeps its order number, so its
    payment simply carries over (the old row is renamed `<order_no>-<n>` and keeps the history);
    for a lower fee only the difference is refunded (a partial refund of that payment, recorded in
    this transaction and sent to the provider after it commits). An unpaid order moves to a new
    order that keeps its payment deadline.

    A confirmed order that pays online moving to a dearer place owes only the difference, and the
    patient must never hold neither place: the new place is taken and held by a new row in status
    `awaiting_difference` (`moving_from` the order, `difference_fen` owed, `payment_deadline`),
    while the old appointment stays valid and untouched. The difference is paid as its own charge
    of the same order (`pay_appointment`); its payment completes the move in one transaction
    (`record_difference_payment`), and a deadline that passes gives the held place back
    (`expire_held_move`). Returns the held row then; asking again for the same place returns it.
    The rules (`BookingRules.max_reschedules`) say how many times one booking may move.
    """
    body = ""
    if idempotency_key:
        body = reschedule_fingerprint(order_no=appointment.order_no, slot_id=slot_id)
        existing = _original_for_key(user=user, idempotency_key=idempotency_key)
        if existing is not None:
            return _replay(existing, body=body)
    try:
        return _reschedule(
            user=user,
            appointment_id=appointment.pk,
            slot_id=slot_id,
            idempotency_key=idempotency_key,
            idempotency_body=body,
            now=now or timezone.now(),
        )
    except places.IdempotentReplay:
        return _replay(_original_for_key(user=user, idempotency_key=idempotency_key), body=body)


def reschedule_fingerprint(*, order_no: str, slot_id: int) -> str:
    return hashlib.sha256(f"reschedule:{order_no}:{slot_id}".encode()).hexdigest()


def _check_target(*, old: Appointment, new_slot: Slot) -> None:
    """A hospital moves a booking to another time of the same doctor, never to another doctor."""
    if new_slot.pk == old.slot_id:
        raise errors.RescheduleNotAllowed(reason=_("新时段与原预约相同"))
    if new_slot.schedule.doctor_id != old.doctor_id:
        raise errors.RescheduleNotAllowed(reason=_("只能改约同一医生的其他时段或其他日期"))


def _check_reschedulable(*, old: Appointment, old_slot: Slot, new_slot: Slot, now) -> None:
    if old.status not in RESCHEDULABLE:
        raise errors.RescheduleNotAllowed(reason=_("当前状态为“%s”") % old.get_status_display())
    _check_target(old=old, new_slot=new_slot)
    deadline_minutes = (old.rules_snapshot or {}).get("cancel_deadline_minutes", 0)
    if now > old_slot.start_at - datetime.timedelta(minutes=deadline_minutes):
        raise errors.RescheduleNotAllowed(reason=_("已超过退号截止时间（就诊前%d分钟）") % deadline_minutes)


@transaction.atomic
def _reschedule(*, user, appointment_id, slot_id, idempotency_key, idempotency_body, now) -> Appointment:
    unlocked = Appointment.objects.select_related("patient").get(pk=appointment_id)
    channel = unlocked.channel
    eligibility.check_actor(user=user, patient=unlocked.patient, channel=channel, hospital_id=unlocked.hospital_id)
    target = Slot.objects.select_related("schedule").filter(pk=slot_id).first()
    if target is None:
        raise errors.RescheduleNotAllowed(reason=_("号源不存在"))
    _check_target(old=unlocked, new_slot=target)
    held = _held_move_of(unlocked)
    if held is not None:
        if held.slot_id == target.pk:
            return held  # the same move asked for again: it is already held, waiting for its difference
        raise errors.RescheduleNotAllowed(reason=_("已有一个待补差价的改约，请先支付差价或等待其超时"))
    if target.free_of(channel) <= 0 and not (channel in places.STAFF_CHANNELS and target.channel_released(channel)):
        # Fast refusal before any lock (as in booking): a full row read here is full; a free one
        # proves nothing, the conditional UPDATE below decides. A retry of a move that took the
        # last place must still get its first result.
        if idempotency_key and _replayed(user=user, idempotency_key=idempotency_key):
            raise places.IdempotentReplay()
        places.raise_slot_full(channel=channel, schedule_id=target.schedule_id)
    # Lock order: person → slots (in id order) → appointment.
    places.lock_person(unlocked.patient)
    patient = Patient.objects.get(pk=unlocked.patient_id)
    if idempotency_key and _replayed(user=user, idempotency_key=idempotency_key):
        raise places.IdempotentReplay()  # the first request with this key committed while we waited
    slots = places.lock_slots_by_id([unlocked.slot_id, slot_id])
    old_slot, new_slot = slots[unlocked.slot_id], slots[slot_id]
    old = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient__user", "hospital", "department", "doctor")
        .get(pk=appointment_id)
    )
    _check_reschedulable(old=old, old_slot=old_slot, new_slot=new_slot, now=now)
    schedule = new_slot.schedule
    rules = eligibility.schedule_rules(schedule)
    if old.reschedule_count >= rules.max_reschedules:
        raise errors.RescheduleLimitReached(count=old.reschedule_count, maximum=rules.max_reschedules)
    if schedule.status != Schedule.Status.PUBLISHED or not new_slot.is_open:
        raise errors.ScheduleUnavailable()
    if schedule.uses_requests and schedule.drawn_at is None and channel not in places.STAFF_CHANNELS:
        raise errors.RequestsOnly()
    eligibility.check_timing(schedule=schedule, slot=new_slot, channel=channel, rules=rules, now=now)
    eligibility.check_person(patient=patient, schedule=schedule, rules=rules, channel=channel, now=now, moving=old.pk)
    if _held_move_of(old) is not None:  # one appeared while we waited for the locks
        raise errors.RescheduleNotAllowed(reason=_("已有一个待补差价的改约，请先支付差价或等待其超时"))

    # 1. Take the new place: if it is gone, nothing has changed yet.
    if not places.take_place(slot_id=new_slot.pk, channel=channel):
        places.raise_not_placed(slot=new_slot, channel=channel)

    difference = schedule.fee_fen - (old.fee_fen if old.paid_at is not None else 0)
    if (
        old.status == Status.CONFIRMED
        and difference > 0
        and places.pays_online_for(schedule=schedule, rules=rules, channel=channel)
    ):
        return _hold_move(
            old=old,
            new_slot=new_slot,
            difference=difference,
            patient=patient,
            user=user,
            rules=rules,
            now=now,
            idempotency_key=idempotency_key,
            idempotency_body=idempotency_body,
        )

    # 2. Release the old one (not a cancellation), before the new row needs its one-per-day spot.
    carry_payment = old.paid_at is not None and old.fee_fen >= schedule.fee_fen
    refund_old = old.paid_at is not None and not carry_payment
    released = {"cancelled_at": now, "cancelled_by": user}
    if carry_payment:  # the order number, and with it the payment, moves to the new row
        released.update(order_no=f"{old.order_no}-{old.reschedule_count + 1}", paid_at=None)
    if refund_old:
        released["refund_requested_at"] = now
    if not places.change_status(
        appointment_id=old.pk, to=Status.RESCHEDULED, only_from=(old.status,), updated_at=now, **released
    ):
        raise places.IllegalTransition(f"appointment {old.pk} left {old.status} under its lock")
    returned_to = places.give_back_place(slot=old_slot, channel=channel)

    # 3. Write the new order.
    overrides = {"rescheduled_from": old, "reschedule_count": old.reschedule_count + 1}
    if carry_payment:
        overrides.update(
            order_no=old.order_no,
            status=Status.CONFIRMED,
            # A free place holds no money once the whole payment is refunded: nothing to refund on cancel.
            paid_at=old.paid_at if schedule.fee_fen > 0 else None,
            payment_deadline=old.payment_deadline,
        )
    elif old.status == Status.PENDING_PAYMENT and places.pays_online_for(
        schedule=schedule, rules=rules, channel=channel
    ):
        overrides["payment_deadline"] = min(old.payment_deadline, new_slot.start_at)  # moving never buys time
    appointment = places.place_appointment(
        slot=new_slot,
        patient=patient,
        channel=channel,
        user=user,
        partner=old.partner,
        rules=rules,
        now=now,
        payment_minutes=rules.payment_timeout_minutes,
        idempotency_key=idempotency_key,
        idempotency_body=idempotency_body,
        place_taken=True,
        **overrides,
    )
    if refund_old:
        old.refund_requested_at = now
        _request_refund_on_commit(old)
    if carry_payment and old.fee_fen > schedule.fee_fen:
        _refund_difference(order_no=appointment.order_no, amount_fen=old.fee_fen - schedule.fee_fen)
    if old.status == Status.PENDING_PAYMENT:
        _close_payments_on_commit(old.order_no)
    if returned_to == Channel.ONLINE:
        offer_to_waitlist(slot=old_slot, now=now)
    notices.appointment_rescheduled(appointment, old=old)
    return appointment


def _held_move_of(appointment: Appointment) -> Appointment | None:
    """The move of this order to a dearer place that still waits for its difference, if any."""
    if appointment.status != Status.CONFIRMED:
        return None
    return appointment.held_moves.filter(status=Status.AWAITING_DIFFERENCE).first()


def _hold_move(
    *, old, new_slot, difference, patient, user, rules, now, idempotency_key, idempotency_body
) -> Appointment:
    """Hold the new place (already taken) for a confirmed order moving to a dearer place.

    The old appointment is not touched. The held row counts in its slot (`booked`) like any order,
    but is not active: the one-per-doctor-per-day rule and the patient's limits see only the old
    one, so a move within the same doctor's day works, and nothing is counted twice.
    """
    return places.place_appointment(
        slot=new_slot,
        patient=patient,
        channel=old.channel,
        user=user,
        partner=old.partner,
        rules=rules,
        now=now,
        payment_minutes=rules.payment_timeout_minutes,
        idempotency_key=idempotency_key,
        idempotency_body=idempotency_body,
        place_taken=True,
        status=Status.AWAITING_DIFFERENCE,
        payment_deadline=min(now + datetime.timedelta(minutes=rules.payment_timeout_minutes), new_slot.start_at),
        moving_from=old,
        difference_fen=difference,
        reschedule_count=old.reschedule_count + 1,
    )


HELD_MOVE_CHARGE_PREFIX = "move-"


def record_difference_payment(
    *, order_no: str, charge: str, amount_fen: int, paid_at: datetime.datetime
) -> Appointment | None:
    """The fee difference of a held 改约 arrived: complete the move, exactly once.

    Under the locks of both slots (id order) and both rows, the old order becomes `rescheduled`
    (renamed `<order_no>-<n>`) and gives its place back, and the held row becomes the confirmed
    order under the old number, so both payments (the fee and this difference) belong to it.
    If the move no longer applies (the deadline sweep gave the held place back, the old order was
    cancelled, the new session suspended, the wrong amount, or the patient took another
    appointment with this doctor that day meanwhile), nothing moves and the difference is refunded.
    Returns None for a charge that is not a held move's.
    """
    held_id = _held_move_id(charge)
    if held_id is None:
        return None
    with transaction.atomic():
        row = (
            Appointment.objects.filter(pk=held_id, moving_from__isnull=False)
            .values("slot_id", "moving_from_id", "moving_from__slot_id")
            .first()
        )
        if row is None:
            return None
        # Lock order: slots (in id order) → appointments (the old row is older, so in id order too).
        slots = places.lock_slots_by_id([row["slot_id"], row["moving_from__slot_id"]])
        old, held = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient__user", "hospital", "department", "doctor", "schedule")
            .filter(pk__in=[row["moving_from_id"], held_id])
            .order_by("pk")
        )
        new_slot, old_slot = slots[held.slot_id], slots[old.slot_id]
        now = timezone.now()
        moves = (
            held.status == Status.AWAITING_DIFFERENCE
            and old.status == Status.CONFIRMED
            and old.order_no == order_no
            and amount_fen == held.difference_fen
            and new_slot.schedule.status == Schedule.Status.PUBLISHED
        )
        if moves:
            try:
                with transaction.atomic():
                    moved = _complete_move(old=old, held=held, order_no=order_no, paid_at=paid_at, now=now)
            except IntegrityError:  # another appointment with this doctor that day took the one active spot
                moved = None
            if moved is not None:
                if places.give_back_place(slot=old_slot, channel=old.channel) == Channel.ONLINE:
                    offer_to_waitlist(slot=old_slot, now=now)
                notices.appointment_rescheduled(moved, old=old)
                return moved
        logger.warning("difference %s of order %s arrived but the move no longer applies; refunding", charge, order_no)
        if held.status == Status.AWAITING_DIFFERENCE:
            _end_appointment(appointment=held, slot=new_slot, status=Status.EXPIRED, now=now)
        _refund_charge(order_no=order_no, charge=charge)
        return held


def _held_move_id(charge: str) -> int | None:
    number = charge.removeprefix(HELD_MOVE_CHARGE_PREFIX)
    if number == charge or not number.isdigit():
        return None
    return int(number)


def _complete_move(*, old: Appointment, held: Appointment, order_no: str, paid_at, now) -> Appointment:
    """The old order steps aside (its row renamed, its payment handed on), the held row takes its number."""
    if not places.change_status(
        appointment_id=old.pk,
        to=Status.RESCHEDULED,
        only_from=(Status.CONFIRMED,),
        updated_at=now,
        order_no=f"{order_no}-{held.reschedule_count}",
        paid_at=None,
        cancelled_at=now,
        cancelled_by_id=held.booked_by_id,
    ):
        raise places.IllegalTransition(f"appointment {old.pk} left confirmed under its lock")
    if not places.change_status(
        appointment_id=held.pk,
        to=Status.CONFIRMED,
        only_from=(Status.AWAITING_DIFFERENCE,),
        updated_at=now,
        order_no=order_no,
        paid_at=old.paid_at or paid_at,
        rescheduled_from=old,
    ):
        raise places.IllegalTransition(f"appointment {held.pk} left awaiting_difference under its lock")
    old.order_no, old.status = f"{order_no}-{held.reschedule_count}", Status.RESCHEDULED
    return Appointment.objects.select_related("patient__user", "hospital", "department", "doctor", "schedule").get(
        pk=held.pk
    )


def _refund_charge(*, order_no: str, charge: str) -> None:
    """Give back one charge of an order (a difference paid for a move that did not happen).

    Recorded in the caller's transaction; payments calls the provider after the commit.
    """
    from payments.services import request_refund

    request_refund(order_no=order_no, charge=charge, reason="reschedule_difference_unused")


def expire_held_move(*, appointment_id: int, now: datetime.datetime | None = None) -> bool:
    """Give back the place a move held for its difference, once it can no longer complete.

    That is: its deadline passed unpaid, the order it moves from is no longer confirmed, or the new
    session is no longer published. The old appointment stands untouched. False if it no longer applies.
    """
    now = now or timezone.now()
    with transaction.atomic():
        slot, held = places.lock_appointment(appointment_id)
        if held.status != Status.AWAITING_DIFFERENCE:
            return False
        old_status = Appointment.objects.filter(pk=held.moving_from_id).values_list("status", flat=True).first()
        if (
            held.payment_deadline > now
            and old_status == Status.CONFIRMED
            and slot.schedule.status == Schedule.Status.PUBLISHED
        ):
            return False
        _end_appointment(appointment=held, slot=slot, status=Status.EXPIRED, now=now)
    return True


def expire_held_moves(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Sweep moves waiting for a difference that can no longer complete, one transaction each.

    Before a held place is given back, the difference's payment is settled or closed at the
    provider: if the money did arrive, the move completes instead (through the payment signal).
    """
    from payments.services import settle_or_close

    now = now or timezone.now()
    due = (
        Appointment.objects.filter(status=Status.AWAITING_DIFFERENCE)
        .filter(
            Q(payment_deadline__lte=now)
            | ~Q(moving_from__status=Status.CONFIRMED)
            | ~Q(schedule__status=Schedule.Status.PUBLISHED)
        )
        .values_list("pk", "moving_from__order_no")[:limit]
    )
    expired = 0
    for appointment_id, order_no in due:
        try:
            if settle_or_close(order_no=order_no, charge=f"{HELD_MOVE_CHARGE_PREFIX}{appointment_id}"):
                continue
        except Exception:  # a provider that cannot be reached: try again on the next sweep
            logger.exception("could not settle or close the difference of %s; the move stays held", order_no)
            continue
        expired += expire_held_move(appointment_id=appointment_id, now=now)
    return expired


# ---------------------------------------------------------------------------------------------
# Ending an appointment: cancel, expire, 停诊


def _end_appointment(
    *, appointment: Appointment, slot: Slot, status: str, now, offer: bool = True, **fields
) -> Appointment:
    """Move a place-holding appointment to a freeing status, give its place back, refund if paid.

    The caller holds the slot's and the appointment's row locks.
    """
    changes = {"status": status, **fields}
    if appointment.paid_at is not None and appointment.refund_requested_at is None:
        changes["refund_requested_at"] = now
    recorded = {name: value for name, value in changes.items() if name != "status"}
    if not places.change_status(
        appointment_id=appointment.pk, to=status, only_from=(appointment.status,), updated_at=now, **recorded
    ):
        raise places.IllegalTransition(f"appointment {appointment.pk} left {appointment.status} under its lock")
    for name, value in changes.items():
        setattr(appointment, name, value)
    returned_to = places.give_back_place(slot=slot, channel=appointment.channel)
    if "refund_requested_at" in changes:
        _request_refund_on_commit(appointment)
    if offer and returned_to == Channel.ONLINE:
        offer_to_waitlist(slot=slot, now=now)
    return appointment


def _refund_difference(*, order_no: str, amount_fen: int) -> None:
    """A carried-over payment is worth more than the new fee: give the difference back.

    The Refund row is written in the reschedule's own transaction, so the move and the refund
    commit together; payments calls the provider after the commit, and its refund sweep retries.
    """
    from payments.services import request_refund

    request_refund(order_no=order_no, amount_fen=amount_fen, reason="reschedule_fee_difference")


def _close_payments_on_commit(order_no: str) -> None:
    """An unpaid order that moved to a new order: close its open payments at the provider.

    Money that arrived meanwhile is settled and, the order no longer waiting, refunded.
    """
    from payments.tasks import settle_or_close_order

    transaction.on_commit(lambda: settle_or_close_order.delay(order_no), robust=True)


def _request_refund_on_commit(appointment: Appointment) -> None:
    from booking.tasks import request_refund_task

    order_no = appointment.order_no
    # robust: if the broker is down at this moment, `retry_unfinished_refunds` asks again later.
    transaction.on_commit(lambda: request_refund_task.delay(order_no), robust=True)


def _check_owner_or_staff(*, user, appointment_id: int) -> bool:
    """Who may act on an appointment, decided from an unlocked read before any row lock is taken,
    so a stranger's request never queues on (or holds) a slot's lock. Returns whether `user` is
    the hospital's staff. The fields read never change after booking.
    """
    owner = Appointment.objects.values("hospital_id", "booked_by_id", "patient__user_id").get(pk=appointment_id)
    if staff_role(user=user, hospital_id=owner["hospital_id"]) is not None:
        return True
    if user.pk not in (owner["patient__user_id"], owner["booked_by_id"]):
        raise errors.NotOwner()
    return False


def cancel_appointment(
    *,
    user,
    appointment: Appointment,
    reason: str = Appointment.CancelReason.PATIENT,
    note: str = "",
    now: datetime.datetime | None = None,
) -> Appointment:
    """Cancel (退号) before the deadline of the rules it was booked under; the place goes back at once.

    A patient's cancellation of a confirmed appointment inside the late window is recorded
    against them. Staff may cancel at any time, and their cancellations never count.
    """
    now = now or timezone.now()
    is_staff = _check_owner_or_staff(user=user, appointment_id=appointment.pk)
    with transaction.atomic():
        slot, appointment = places.lock_appointment(appointment.pk)
        if not is_staff:
            reason = Appointment.CancelReason.PATIENT
        if appointment.status not in (Status.PENDING_PAYMENT, Status.CONFIRMED):
            raise errors.CancelNotAllowed()
        snapshot_status = appointment.status
        snapshot = appointment.rules_snapshot or {}
        deadline_minutes = snapshot.get("cancel_deadline_minutes", 0)
        if not is_staff and now > slot.start_at - datetime.timedelta(minutes=deadline_minutes):
            raise errors.CancelDeadlinePassed(minutes=deadline_minutes)
        late = (
            reason == Appointment.CancelReason.PATIENT
            and appointment.status == Status.CONFIRMED
            and now > slot.start_at - datetime.timedelta(hours=snapshot.get("late_cancel_hours", 0))
        )
        _end_appointment(
            appointment=appointment,
            slot=slot,
            status=Status.CANCELLED,
            now=now,
            cancelled_at=now,
            cancel_reason=reason,
            cancel_note=note[:200],
            cancelled_by=user,
        )
        if late:
            record_penalty(appointment=appointment, kind=Penalty.Kind.LATE_CANCEL, now=now)
        if is_staff:
            audit.record(
                hospital_id=appointment.hospital_id,
                actor=user,
                action=Action.CANCELLED_BY_STAFF,
                target=appointment,
                target_repr=appointment.order_no,
                changes={"status": [snapshot_status, Status.CANCELLED], "cancel_reason": reason},
                reason=note,
            )
        notices.appointment_cancelled(appointment)
    return appointment


def expire_appointment(*, appointment_id: int, now: datetime.datetime | None = None) -> bool:
    """An unpaid order past its deadline expires and its place goes back. False if it no longer applies."""
    now = now or timezone.now()
    with transaction.atomic():
        slot, appointment = places.lock_appointment(appointment_id)
        if appointment.status != Status.PENDING_PAYMENT or appointment.payment_deadline > now:
            return False
        _end_appointment(appointment=appointment, slot=slot, status=Status.EXPIRED, now=now)
        notices.payment_expired(appointment)
    return True


def expire_unpaid(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Expire every unpaid order past its deadline, one transaction each.

    Before an order expires its payment is settled or closed at the provider: if the money did
    arrive, the order is confirmed instead (through the payment signal).
    """
    from payments.services import settle_or_close

    now = now or timezone.now()
    due = Appointment.objects.filter(status=Status.PENDING_PAYMENT, payment_deadline__lte=now).values_list(
        "pk", "order_no"
    )[:limit]
    expired = 0
    for appointment_id, order_no in due:
        try:
            if settle_or_close(order_no=order_no):
                continue
        except Exception:  # a provider that cannot be reached: try again on the next sweep
            logger.exception("could not settle or close the payment of %s; it stays pending", order_no)
            continue
        expired += expire_appointment(appointment_id=appointment_id, now=now)
    return expired + expire_held_moves(now=now, limit=limit)


def suspend_schedule(*, schedule: Schedule, reason: str, by, now: datetime.datetime | None = None) -> int:
    """停诊: close the session, cancel every appointment in it, refund the paid ones and tell everyone.

    None of it counts against the patients. Running it again changes nothing. Returns how many
    appointments were cancelled.
    """
    now = now or timezone.now()
    with transaction.atomic():
        schedule = Schedule.objects.select_related("doctor", "department").get(pk=schedule.pk)
        if not may_manage_schedule(
            user=by, hospital_id=schedule.doctor.hospital_id, department_id=schedule.department_id
        ):
            raise errors.NotStaff()
        # Closing the slots takes their row locks (in id order): bookings in flight finish first,
        # later ones find the slots closed.
        closed = places.lock_slots(schedule_id=schedule.pk)
        Slot.objects.filter(schedule=schedule).update(is_open=False)
        places.places_changed(slots=closed, freed=True)
        suspended = Schedule.objects.filter(
            pk=schedule.pk, status__in=[Schedule.Status.DRAFT, Schedule.Status.PUBLISHED]
        ).update(status=Schedule.Status.SUSPENDED, suspended_at=now, suspended_reason=reason[:200], suspended_by=by)
        if not suspended:
            return 0
        slots = {slot.pk: slot for slot in places.lock_slots(schedule_id=schedule.pk)}
        appointments = list(
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient__user", "doctor")
            .filter(schedule=schedule, status__in=Appointment.ACTIVE)
            .order_by("pk")
        )
        alternatives = notices.alternatives_text(schedule=schedule, now=now)
        for appointment in appointments:
            _end_appointment(
                appointment=appointment,
                slot=slots[appointment.slot_id],
                status=Status.CANCELLED,
                now=now,
                offer=False,
                cancelled_at=now,
                cancel_reason=Appointment.CancelReason.DOCTOR_SUSPENDED,
                cancel_note=reason[:200],
                cancelled_by=by,
            )
            notices.schedule_suspended(appointment, alternatives=alternatives)
        WaitlistEntry.objects.filter(schedule=schedule, status=WaitlistEntry.Status.WAITING).update(
            status=WaitlistEntry.Status.CLOSED
        )
        BookingRequest.objects.filter(schedule=schedule, status=BookingRequest.Status.PENDING).update(
            status=BookingRequest.Status.CANCELLED, result_note=_("医生停诊")
        )
        audit.record(
            hospital_id=schedule.doctor.hospital_id,
            actor=by,
            action=Action.SCHEDULE_SUSPENDED,
            target=schedule,
            changes={"status": [schedule.status, Schedule.Status.SUSPENDED], "cancelled": len(appointments)},
            reason=reason,
        )
    return len(appointments)


# ---------------------------------------------------------------------------------------------
# The day of the visit


def check_in(*, appointment: Appointment, by, now: datetime.datetime | None = None) -> Appointment:
    """签到 on the day of the visit, by the hospital's staff or the patient's own account."""
    now = now or timezone.now()
    owner = Appointment.objects.values("hospital_id", "patient__user_id").get(pk=appointment.pk)
    is_staff = staff_role(user=by, hospital_id=owner["hospital_id"]) is not None
    if not is_staff and by.pk != owner["patient__user_id"]:
        raise errors.NotOwner()
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient", "schedule")
            .get(pk=appointment.pk)
        )
        if appointment.status != Status.CONFIRMED:
            raise errors.InvalidStatus(status=appointment.get_status_display())
        if timezone.localdate(now) != appointment.visit_date or now >= appointment.schedule.end_at:
            raise errors.CheckInNotAllowed()
        places.change_status(
            appointment_id=appointment.pk, to=Status.CHECKED_IN, only_from=(Status.CONFIRMED,), checked_in_at=now
        )
        if is_staff:
            _audit_status(appointment, by=by, action=Action.CHECKED_IN, to=Status.CHECKED_IN)
        appointment.refresh_from_db()
    return appointment


def _audit_status(appointment: Appointment, *, by, action: str, to: str, reason: str = "") -> None:
    audit.record(
        hospital_id=appointment.hospital_id,
        actor=by,
        action=action,
        target=appointment,
        target_repr=appointment.order_no,
        changes={"status": [appointment.status, to]},
        reason=reason,
    )


def complete_visit(*, appointment: Appointment, by, now: datetime.datetime | None = None) -> Appointment:
    now = now or timezone.now()
    eligibility.require_staff(user=by, hospital_id=appointment.hospital_id)
    with transaction.atomic():
        before = Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)
        if not places.change_status(
            appointment_id=appointment.pk, to=Status.COMPLETED, completed_at=now, updated_at=now
        ):
            appointment.refresh_from_db()
            raise errors.InvalidStatus(status=appointment.get_status_display())
        _audit_status(before, by=by, action=Action.COMPLETED, to=Status.COMPLETED)
    appointment.refresh_from_db()
    return appointment


def mark_no_show(*, appointment: Appointment, by, now: datetime.datetime | None = None) -> Appointment:
    """The desk marks a confirmed patient who has not come 爽约, once the grace time after their turn has passed.

    Recorded against the person exactly as the clock's sweep would (`mark_no_shows`).
    """
    now = now or timezone.now()
    eligibility.require_staff(user=by, hospital_id=appointment.hospital_id)
    with transaction.atomic():
        current = Appointment.objects.select_for_update(of=("self",)).select_related("patient").get(pk=appointment.pk)
        if current.status != Status.CONFIRMED:
            raise errors.InvalidStatus(status=current.get_status_display())
        if now < current.estimated_at + NO_SHOW_GRACE:
            raise errors.NoShowTooEarly(minutes=int(NO_SHOW_GRACE.total_seconds() // 60))
        places.change_status(
            appointment_id=current.pk, to=Status.NO_SHOW, only_from=(Status.CONFIRMED,), updated_at=now
        )
        record_penalty(appointment=current, kind=Penalty.Kind.NO_SHOW, now=now)
        _audit_status(current, by=by, action=Action.NO_SHOW, to=Status.NO_SHOW)
    current.refresh_from_db()
    return current


def mark_no_shows(*, now: datetime.datetime | None = None) -> int:
    """Confirmed appointments whose session has ended without a check-in become 爽约 and are recorded."""
    now = now or timezone.now()
    marked = 0
    due = Appointment.objects.filter(status=Status.CONFIRMED, schedule__end_at__lt=now).values_list("pk", flat=True)
    for appointment_id in list(due[:1000]):
        with transaction.atomic():
            if not places.change_status(
                appointment_id=appointment_id, to=Status.NO_SHOW, only_from=(Status.CONFIRMED,), updated_at=now
            ):
                continue
            appointment = Appointment.objects.select_related("patient").get(pk=appointment_id)
            record_penalty(appointment=appointment, kind=Penalty.Kind.NO_SHOW, now=now)
            audit.record(
                hospital_id=appointment.hospital_id,
                actor=None,
                action=Action.NO_SHOW,
                target=appointment,
                target_repr=appointment.order_no,
                changes={"status": [Status.CONFIRMED, Status.NO_SHOW]},
            )
            marked += 1
    return marked


# ---------------------------------------------------------------------------------------------
# Penalties and bans


def record_penalty(*, appointment: Appointment, kind: str, now: datetime.datetime) -> Penalty | None:
    """Record a no-show or late cancellation against the real person; ban them once they cross the line.

    Judged by `eligibility.penalty_rules` (the booking's rule row). A late cancellation those rules
    do not count is not recorded at all: the patient's 失信 list shows only what counts against them.
    """
    rules = eligibility.penalty_rules(appointment)
    if kind == Penalty.Kind.LATE_CANCEL and not rules.late_cancel_counts:
        return None
    penalty, _created = Penalty.objects.get_or_create(
        appointment=appointment,
        kind=kind,
        defaults={
            "person_key": appointment.person_key,
            "patient_id": appointment.patient_id,
            "hospital_id": appointment.hospital_id,
            "occurred_at": now,
        },
    )
    _ban_if_threshold_crossed(appointment=appointment, rules=rules, now=now)
    return penalty


def _counted_kinds(rules: eligibility.PenaltyRules) -> list[str]:
    return [Penalty.Kind.NO_SHOW, *([Penalty.Kind.LATE_CANCEL] if rules.late_cancel_counts else [])]


def _counted_penalties(
    *, person_key: str, hospital_id: int, rules: eligibility.PenaltyRules, at: datetime.datetime
) -> int:
    """Unwaived records in the rules' window up to `at`, counting only since the previous ban began.

    Issuing a ban and lifting one after a waiver both count this way, so they always agree.
    """
    since = at - datetime.timedelta(days=rules.no_show_window_days)
    previous = (
        BookingBan.objects.filter(
            person_key=person_key, hospital_id=hospital_id, lifted_at__isnull=True, starts_at__lt=at
        )
        .order_by("-starts_at")
        .first()
    )
    if previous is not None and previous.starts_at > since:
        since = previous.starts_at
    return Penalty.objects.filter(
        person_key=person_key,
        hospital_id=hospital_id,
        waived_at__isnull=True,
        kind__in=_counted_kinds(rules),
        occurred_at__gt=since,
        occurred_at__lte=at,
    ).count()


def _ban_if_threshold_crossed(*, appointment: Appointment, rules: eligibility.PenaltyRules, now) -> BookingBan | None:
    hospital_id, person_key = appointment.hospital_id, appointment.person_key
    if active_ban(person_key=person_key, hospital_id=hospital_id, now=now) is not None:
        return None
    count = _counted_penalties(person_key=person_key, hospital_id=hospital_id, rules=rules, at=now)
    if count < rules.no_show_threshold:
        return None
    return BookingBan.objects.create(
        person_key=person_key,
        patient_id=appointment.patient_id,
        hospital_id=hospital_id,
        starts_at=now,
        ends_at=now + datetime.timedelta(days=rules.ban_days),
        reason=_("%(days)d天内爽约或临近就诊退号%(count)d次") % {"days": rules.no_show_window_days, "count": count},
        rules_snapshot=rules.as_snapshot(),
    )


def waive_penalty(*, penalty: Penalty, by, reason: str, now: datetime.datetime | None = None) -> Penalty:
    """The hospital's administrator waives a record (e.g. the patient was in hospital); a ban it caused is lifted.

    Only a hospital_admin (or a superuser) may: the front desk and schedulers are refused here,
    whatever door they come through. Whether the ban still holds is judged by the rules it was
    issued under (stored on the ban), the same count that issued it.
    """
    now = now or timezone.now()
    if not may_waive_penalties(user=by, hospital_id=penalty.hospital_id):
        raise errors.NotStaff()
    with transaction.atomic():
        if not Penalty.objects.filter(pk=penalty.pk, waived_at__isnull=True).update(
            waived_at=now, waived_by=by, waive_reason=reason[:200]
        ):
            penalty.refresh_from_db()
            return penalty
        audit.record(
            hospital_id=penalty.hospital_id,
            actor=by,
            action=Action.PENALTY_WAIVED,
            target=penalty,
            changes={"waived_at": [None, now.isoformat()]},
            reason=reason,
        )
        ban = active_ban(person_key=penalty.person_key, hospital_id=penalty.hospital_id, now=now)
        if ban is not None:
            rules = eligibility.PenaltyRules.from_snapshot(
                ban.rules_snapshot, fallback=eligibility.penalty_rules(penalty.appointment)
            )  # the rules the ban was issued under
            remaining = _counted_penalties(
                person_key=penalty.person_key, hospital_id=penalty.hospital_id, rules=rules, at=ban.starts_at
            )
            if remaining < rules.no_show_threshold:
                BookingBan.objects.filter(pk=ban.pk).update(
                    lifted_at=now, lifted_by=by, lift_reason=_("失信记录已撤销：%(reason)s") % {"reason": reason[:150]}
                )
    penalty.refresh_from_db()
    return penalty


# ---------------------------------------------------------------------------------------------
# Waitlist (候补)


def join_waitlist(*, user, patient: Patient, schedule: Schedule, now: datetime.datetime | None = None) -> WaitlistEntry:
    """Join the line for a session whose online places are all taken."""
    now = now or timezone.now()
    with transaction.atomic():
        hospital_id = Schedule.objects.values_list("doctor__hospital_id", flat=True).get(pk=schedule.pk)
        eligibility.check_actor(user=user, patient=patient, channel=Channel.ONLINE, hospital_id=hospital_id)
        places.lock_person(patient)
        patient = Patient.objects.get(pk=patient.pk)
        schedule = places.read_schedule_fenced(schedule.pk)
        if schedule.status != Schedule.Status.PUBLISHED:
            raise errors.ScheduleUnavailable()
        rules = eligibility.schedule_rules(schedule)
        if not rules.waitlist_enabled:
            raise errors.WaitlistUnavailable(reason=_("本院未开放候补"))
        if now < schedule.release_at:
            raise errors.NotReleasedYet(release_at=eligibility.local_text(schedule.release_at))
        if schedule.uses_requests and schedule.drawn_at is None:
            raise errors.WaitlistUnavailable(reason=_("抽签尚未进行"))
        if now >= waitlist_closes_at(schedule=schedule, rules=rules):
            raise errors.WaitlistUnavailable(reason=_("候补已于就诊前一天截止"))
        open_slots = Slot.objects.filter(
            schedule=schedule,
            is_open=True,
            start_at__gt=now + datetime.timedelta(minutes=rules.close_minutes_before_start),
        )
        if not open_slots.exists():
            raise errors.BookingClosed()
        if open_slots.filter(online_booked__lt=F("online_capacity")).exists():
            raise errors.WaitlistUnavailable(reason=_("尚有可预约号源，请直接预约"))
        eligibility.check_person(patient=patient, schedule=schedule, rules=rules, channel=Channel.ONLINE, now=now)
        try:
            with transaction.atomic():
                return WaitlistEntry.objects.create(
                    schedule=schedule, patient=patient, person_key=patient.person_key, booked_by=user
                )
        except IntegrityError as exc:
            # None: the driver names no constraint (SQLite); this is the table's only unique one.
            if places.violated_constraint(exc) not in ("booking_waitlist_one_waiting_per_person_schedule", None):
                raise
            raise errors.DuplicateWaitlist() from exc


def withdraw_own(*, user, entry, waiting: str, withdrawn: str):
    """A waitlist entry or a lottery request may be withdrawn, while still waiting, by whoever made it."""
    if entry.booked_by_id != user.pk and entry.patient.user_id != user.pk:
        raise errors.NotOwner()
    type(entry).objects.filter(pk=entry.pk, status=waiting).update(status=withdrawn)
    entry.refresh_from_db()
    return entry


def leave_waitlist(*, user, entry: WaitlistEntry) -> WaitlistEntry:
    return withdraw_own(
        user=user, entry=entry, waiting=WaitlistEntry.Status.WAITING, withdrawn=WaitlistEntry.Status.CANCELLED
    )


def offer_to_waitlist(*, slot: Slot, now: datetime.datetime) -> list[Appointment]:
    """Give the slot's free online places to the earliest eligible waiting entries, in order.

    Runs inside the transaction that freed the places. Each promoted entry gets a
    `pending_payment` appointment with the rules' waitlist payment time; if it lapses, the
    expiry frees the place again and this runs once more for the next entry.
    """
    schedule = Schedule.objects.select_related("doctor", "department").get(pk=slot.schedule_id)
    if schedule.status != Schedule.Status.PUBLISHED:
        return []
    rules = eligibility.schedule_rules(schedule)
    slot = Slot.objects.select_related("schedule__doctor", "schedule__department").get(pk=slot.pk)
    too_late = now >= slot.start_at - datetime.timedelta(minutes=rules.close_minutes_before_start)
    if not rules.waitlist_enabled or too_late or slot.online_free <= 0:
        return []
    promoted = []
    waiting = (
        WaitlistEntry.objects.filter(schedule=schedule, status=WaitlistEntry.Status.WAITING)
        .select_related("patient", "booked_by")
        .order_by("created_at", "pk")
    )
    for entry in waiting:
        try:
            if not places.try_lock_person(entry.patient):
                continue  # busy booking right now: not eligible at this moment
            eligibility.check_person(
                patient=entry.patient, schedule=schedule, rules=rules, channel=Channel.ONLINE, now=now
            )
            with transaction.atomic():
                claimed = WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistEntry.Status.WAITING).update(
                    status=WaitlistEntry.Status.PROMOTED, promoted_at=now
                )
                if not claimed:
                    continue  # the patient left the line a moment ago
                appointment = places.place_appointment(
                    slot=slot,
                    patient=entry.patient,
                    channel=Channel.ONLINE,
                    user=entry.booked_by,
                    partner=None,
                    rules=rules,
                    now=now,
                    payment_minutes=rules.waitlist_payment_minutes,
                )
        except (errors.SlotFull, errors.ScheduleUnavailable):
            break
        except errors.BookingError:
            continue  # not eligible now (banned, a limit, already booked elsewhere): the next in line
        WaitlistEntry.objects.filter(pk=entry.pk).update(appointment=appointment)
        notices.waitlist_promoted(appointment)
        promoted.append(appointment)
    return promoted


# ---------------------------------------------------------------------------------------------
# Channels: 加号 and releasing unused reserves


def add_places(*, slot: Slot, places: int, channel: str, reason: str, by, now: datetime.datetime | None = None) -> Slot:
    """加号: add places to a slot in one channel, recorded with who and why."""
    now = now or timezone.now()
    if not isinstance(places, int) or isinstance(places, bool) or not 1 <= places <= 50:
        raise errors.InvalidPlaces()
    if channel not in CHANNEL_ORDER:
        raise ValueError(f"unknown channel {channel!r}")
    hospital_id, department_id = Slot.objects.values_list(
        "schedule__doctor__hospital_id", "schedule__department_id"
    ).get(pk=slot.pk)
    role = eligibility.require_staff(
        user=by,
        hospital_id=hospital_id,
        roles=(HospitalStaff.Role.HOSPITAL_ADMIN, HospitalStaff.Role.SCHEDULER, HospitalStaff.Role.FRONT_DESK),
    )
    if role == HospitalStaff.Role.SCHEDULER and not may_manage_schedule(
        user=by, hospital_id=hospital_id, department_id=department_id
    ):
        raise errors.NotStaff()
    with transaction.atomic():
        slot = booking_places.load_slot(slot.pk, lock=True)  # `places` is the number of places here
        if slot.schedule.status == Schedule.Status.SUSPENDED or not slot.is_open:
            raise errors.ScheduleUnavailable()
        capacity = f"{channel}_capacity"
        Slot.objects.filter(pk=slot.pk).update(capacity=F("capacity") + places, **{capacity: F(capacity) + places})
        booking_places.places_changed(slots=[slot], freed=True)
        SlotAdjustment.objects.create(slot=slot, channel=channel, places=places, reason=reason[:200], created_by=by)
        audit.record(
            hospital_id=hospital_id,
            actor=by,
            action=Action.PLACES_ADDED,
            target=slot,
            changes={
                "channel": channel,
                "capacity": [slot.capacity, slot.capacity + places],
                capacity: [getattr(slot, capacity), getattr(slot, capacity) + places],
            },
            reason=reason,
        )
        if channel == Channel.ONLINE:
            offer_to_waitlist(slot=slot, now=now)
    slot.refresh_from_db()
    return slot


def release_reserves(*, now: datetime.datetime | None = None, horizon_days: int = 60) -> int:
    """Move reserved places nobody used (window, clinic; partner at its cut-off) to the online pool.

    Idempotent: each slot's release is stamped, and the UPDATE only touches unstamped slots, so a
    second run — or two runs at once — moves nothing twice. Returns the number of places moved.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    unreleased = Q(slots__reserves_released_at__isnull=True) | Q(slots__partner_released_at__isnull=True)
    schedules = (
        Schedule.objects.filter(status=Schedule.Status.PUBLISHED, date__gte=today)
        .filter(date__lte=today + datetime.timedelta(days=horizon_days))
        .filter(unreleased)
        .select_related("doctor", "department")
        .distinct()
    )
    moved = 0
    for schedule in schedules:
        moments = release_moments(rules=eligibility.schedule_rules(schedule), visit_date=schedule.date)
        for flag, channels in RESERVE_RELEASE_FLAGS.items():
            if moments[flag] <= now:
                moved += _release_schedule_channels(schedule=schedule, flag=flag, channels=channels, now=now)
    return moved


def _release_schedule_channels(*, schedule: Schedule, flag: str, channels: tuple[str, ...], now) -> int:
    with transaction.atomic():
        slots = places.lock_slots(schedule_id=schedule.pk, **{f"{flag}__isnull": True})
        if not slots:
            return 0
        unused = sum(F(f"{c}_capacity") - F(f"{c}_booked") for c in channels)
        Slot.objects.filter(pk__in=[s.pk for s in slots], **{f"{flag}__isnull": True}).update(
            online_capacity=F("online_capacity") + unused,
            **{f"{c}_capacity": F(f"{c}_booked") for c in channels},
            **{flag: now},
        )
        places.places_changed(slots=slots, freed=True)
        moved = sum(slot.free_of(c) for slot in slots for c in channels)
        for slot in slots:
            if any(slot.free_of(c) for c in channels):
                offer_to_waitlist(slot=slot, now=now)
    return moved


# ---------------------------------------------------------------------------------------------
# Money: what payments tells us (through its signals, see booking/receivers.py)


def record_payment(*, order_no: str, amount_fen: int, paid_at: datetime.datetime) -> Appointment | None:
    """The money for an order arrived. Confirms a waiting order exactly once.

    A payment for an order that has already expired or been cancelled (it arrived late), or for
    the wrong amount, is refunded automatically. Returns None for an order that is not ours.
    """
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient__user", "doctor", "hospital")
            .filter(order_no=order_no)
            .first()
        )
        if appointment is None:
            return None
        if appointment.paid_at is not None:
            return appointment  # the same payment announced again
        changes = {"paid_at": paid_at}
        if appointment.status == Status.PENDING_PAYMENT and amount_fen == appointment.fee_fen:
            changes["status"] = Status.CONFIRMED
            places.change_status(
                appointment_id=appointment.pk, to=Status.CONFIRMED, only_from=(Status.PENDING_PAYMENT,), paid_at=paid_at
            )
        else:
            changes["refund_requested_at"] = timezone.now()
            Appointment.objects.filter(pk=appointment.pk).update(**changes)
        for name, value in changes.items():
            setattr(appointment, name, value)
        if appointment.status == Status.CONFIRMED and "status" in changes:
            notices.appointment_confirmed(appointment)
        else:
            logger.warning("payment for %s arrived in status %s; refunding it", order_no, appointment.status)
            _request_refund_on_commit(appointment)
    return appointment


DESK_PAYABLE = (Status.PENDING_PAYMENT, Status.CONFIRMED, Status.CHECKED_IN)


def pay_at_desk(*, appointment: Appointment, method: str, by, now: datetime.datetime | None = None) -> Appointment:
    """The window takes the fee in cash or by card: recorded with who took it, the order settled and audited.

    A waiting order is confirmed (as a paid online order would be); a window or clinic booking,
    confirmed without online payment, is marked paid. All in one transaction under the order's lock.
    """
    from payments.services import record_offline_payment

    now = now or timezone.now()
    eligibility.require_staff(
        user=by,
        hospital_id=appointment.hospital_id,
        roles=(HospitalStaff.Role.HOSPITAL_ADMIN, HospitalStaff.Role.FRONT_DESK),
    )
    with transaction.atomic():
        current = Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)
        if current.paid_at is not None:
            raise errors.AlreadyPaid()
        if current.fee_fen <= 0:
            raise errors.NothingToPay()
        if current.status not in DESK_PAYABLE:
            raise errors.InvalidStatus(status=current.get_status_display())
        record_offline_payment(
            order_no=current.order_no, amount_fen=current.fee_fen, method=method, taken_by=by, taken_at=now
        )
        if current.status == Status.PENDING_PAYMENT:
            places.change_status(
                appointment_id=current.pk, to=Status.CONFIRMED, only_from=(Status.PENDING_PAYMENT,), paid_at=now
            )
        else:
            Appointment.objects.filter(pk=current.pk, paid_at__isnull=True).update(paid_at=now, updated_at=now)
        audit.record(
            hospital_id=current.hospital_id,
            actor=by,
            action=Action.DESK_PAYMENT,
            target=current,
            target_repr=current.order_no,
            changes={"paid_at": [None, now.isoformat()], "method": method, "amount_fen": current.fee_fen},
        )
    current.refresh_from_db()
    return current


def pay_appointment(
    *, user, appointment: Appointment, provider: str, method: str, client_ip: str = "", return_url: str = ""
):
    """Start (or resume) paying a waiting order with Alipay, WeChat Pay or the 模拟支付 sandbox.

    For a confirmed order with a move to a dearer place held (or that held row itself), this pays
    the fee difference: a charge of its own on the order the move comes from.
    """
    from payments.services import start_payment

    appointment = Appointment.objects.select_related("patient", "doctor", "hospital", "moving_from").get(
        pk=appointment.pk
    )
    if user.pk not in (appointment.patient.user_id, appointment.booked_by_id):
        raise errors.NotOwner()
    names = {"hospital": appointment.hospital.name, "doctor": appointment.doctor.name}
    held = appointment if appointment.status == Status.AWAITING_DIFFERENCE else _held_move_of(appointment)
    if held is not None:
        order = appointment if held is not appointment else appointment.moving_from
        if order.status != Status.CONFIRMED:  # the move can no longer complete; the sweep gives its place back
            raise errors.InvalidStatus(status=order.get_status_display())
        return start_payment(
            order_no=order.order_no,
            charge=held.difference_charge,
            amount_fen=held.difference_fen,
            subject=_("%(hospital)s %(doctor)s 改约补差价") % names,
            provider=provider,
            method=method,
            expires_at=held.payment_deadline,
            client_ip=client_ip,
            return_url=return_url,
        )
    if appointment.status != Status.PENDING_PAYMENT:
        raise errors.InvalidStatus(status=appointment.get_status_display())
    return start_payment(
        order_no=appointment.order_no,
        amount_fen=appointment.fee_fen,
        subject=_("%(hospital)s %(doctor)s 挂号费") % names,
        provider=provider,
        method=method,
        expires_at=appointment.payment_deadline,
        client_ip=client_ip,
        return_url=return_url,
    )


def record_refund(*, order_no: str, refunded_at: datetime.datetime) -> Appointment | None:
    """The money went back: a cancelled or expired order becomes `refunded`."""
    appointment = Appointment.objects.filter(order_no=order_no).first()
    if appointment is not None and places.change_status(
        appointment_id=appointment.pk, to=Status.REFUNDED, refunded_at=refunded_at, updated_at=refunded_at
    ):
        appointment.refresh_from_db()
    return appointment


def retry_unfinished_refunds(*, now: datetime.datetime | None = None, older_than_minutes: int = 10) -> int:
    """Ask payments again for every refund we requested that has not come back.

    A refund request is queued after its transaction commits; if the broker was down then, or
    the provider refused the refund, this sweep asks again. `request_refund` is idempotent (one
    active refund per payment), so asking twice never refunds twice.
    """
    from payments.services import request_refund

    now = now or timezone.now()
    due = Appointment.objects.filter(
        refund_requested_at__lte=now - datetime.timedelta(minutes=older_than_minutes),
        refund_requested_at__gte=now - datetime.timedelta(days=30),
        refunded_at__isnull=True,
    ).values_list("order_no", flat=True)
    asked = 0
    for order_no in due[:500]:
        try:
            request_refund(order_no=order_no, reason="appointment_cancelled")
            asked += 1
        except Exception:  # one provider's trouble must not stop the sweep
            logger.exception("refund of %s could not be requested; will try again", order_no)
    return asked


# ---------------------------------------------------------------------------------------------
# Closing the waitlist (候补截止)


def waitlist_closes_at(*, schedule: Schedule, rules) -> datetime.datetime:
    """The waitlist of a session closes at the rules' `waitlist_close_time` the day before the visit."""
    from scheduling.models import local_datetime

    return local_datetime(schedule.date - datetime.timedelta(days=1), rules.waitlist_close_time)


def close_waitlists(*, now: datetime.datetime | None = None) -> int:
    """Close every waitlist past its closing time: each entry still waiting is closed and told, by
    one SMS, that no place came free. One transaction per entry; the entry's WAITING → CLOSED
    update is the claim, and its SMS log is written in the same transaction, so a run repeated or
    killed half-way tells nobody twice and nobody never. Returns how many entries were closed."""
    from booking.reminders import phone_of
    from notifications.services import send_sms
    from notifications.templates_sms import format_date

    now = now or timezone.now()
    tomorrow = timezone.localtime(now).date() + datetime.timedelta(days=1)
    waiting = (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING, schedule__date__lte=tomorrow)
        .select_related("schedule__doctor__hospital", "schedule__department", "patient__user")
        .order_by("schedule_id", "pk")
    )
    closes_at = {}
    closed = 0
    for entry in waiting:
        schedule = entry.schedule
        if schedule.pk not in closes_at:
            closes_at[schedule.pk] = waitlist_closes_at(schedule=schedule, rules=eligibility.schedule_rules(schedule))
        if now < closes_at[schedule.pk]:
            continue
        with transaction.atomic():
            if not WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistEntry.Status.WAITING).update(
                status=WaitlistEntry.Status.CLOSED
            ):
                continue  # promoted or withdrawn a moment ago
            closed += 1
            phone = phone_of(entry.patient)
            if phone:
                send_sms(
                    phone=phone,
                    template="waitlist_closed",
                    params={
                        "patient": entry.patient.name,
                        "hospital": schedule.doctor.hospital.name,
                        "department": schedule.department.name,
                        "doctor": schedule.doctor.name,
                        "session": f"{format_date(schedule.date)}{schedule.get_period_display()}",
                    },
                    dedupe_key=f"waitlist_closed:{entry.pk}",
                )
    return closed
