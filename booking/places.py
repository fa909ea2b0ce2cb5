"""The booking core: locks, taking and giving back places, numbering and writing the order.

Every path that books, cancels or moves a place (booking.services, booking.allocation) takes
its locks and places through this module.

Lock order, the same in every service, so PostgreSQL never has to break a deadlock:
person → slots (in id order) → schedule → appointment.

- Booking first takes the person's lock (a transaction-scoped advisory lock on the ID hash, so
  one real person's requests queue up even across accounts and the limit checks are exact),
  then takes the place with one conditional UPDATE on the slot row, which holds that row's
  lock until commit. Paths that already hold slot locks (waitlist offers, draws) only *try*
  the person's lock and treat a busy person as not eligible at that moment.
- Cancelling, expiring and 停诊 lock the slot row before the appointment, so a booking in
  flight on that slot has committed (or waits) before places are counted back.
- 停诊 first closes its slots (`is_open = false`, in the same row the booking UPDATE tests),
  so a booking that was waiting on a slot lock finds the slot closed, not a free place.
- Joining a waitlist and entering a draw read the schedule under a share lock, so a 停诊 or a
  draw running at the same moment is either seen or waited for, never missed.

The release minute (DESIGN.md): thousands press 预约 for a few dozen places. When the conditional
UPDATE finds no place, the slot is marked sold out in the cache (`mark_sold_out`), and
`booking.services.book_slot` refuses later attempts on it without opening a transaction. Every
path that frees a place (giving one back, 加号, releasing reserves, 停诊, and any new one) calls
`places_changed(..., freed=True)`, which clears the mark once its transaction commits. The mark
only ever refuses early; the UPDATE stays the only judge of who gets a place. A mark that outlives
a freeing (set by an UPDATE that raced with it) refuses for at most `SOLD_OUT_SECONDS`.
"""

import datetime
import logging
import secrets
import time
from functools import partial

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Partner, Patient
from booking import attempts, errors
from booking.models import Appointment
from booking.signals import appointment_status_changed
from hospital.channels import Channel
from hospital.models import BookingRules
from scheduling.models import RESERVE_RELEASE_FLAGS, Schedule, Slot
from scheduling.selectors import forget_doctor_schedules

logger = logging.getLogger(__name__)

Status = Appointment.Status
STAFF_CHANNELS = (Channel.WINDOW, Channel.CLINIC)


class IdempotentReplay(Exception):
    """The same user sent the same idempotency key again while the first request was committing."""


def load_slot(slot_id: int, *, lock: bool = False) -> Slot:
    queryset = Slot.objects.select_related("schedule__doctor__hospital", "schedule__department")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.get(pk=slot_id)


PERSON_LOCK_CLASS = 7101  # advisory-lock namespace for "one real person"
# Patient.person_key, computed by the database from the patient's row: the document's hash, else the id.
PERSON_KEY_SQL = "COALESCE(NULLIF(id_number_hash, ''), 'patient:' || id::text)"


def lock_person(patient: Patient, *, wait: bool = True) -> bool:
    """Serialise one real person's bookings for the rest of the transaction (PostgreSQL advisory lock).

    With `wait=False` returns False at once if another transaction holds it. SQLite (`make run`)
    runs one writer at a time anyway, so there it only locks the patient row.
    """
    if connection.vendor != "postgresql":
        Patient.objects.select_for_update().filter(pk=patient.pk).exists()
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, hashtext(%s))", [PERSON_LOCK_CLASS, patient.person_key])
        return wait or bool(cursor.fetchone()[0])


def lock_patient(patient_id: int) -> Patient | None:
    """`lock_person` for a patient known only by its id (a request body's): the person's lock, on
    the key read in the same statement, then the patient as it is under that lock; None if there
    is no such patient. Two statements, as `lock_person` and a re-read are."""
    if connection.vendor != "postgresql":
        Patient.objects.select_for_update().filter(pk=patient_id).exists()
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT pg_advisory_xact_lock(%s, hashtext({PERSON_KEY_SQL})) "
                f"FROM {Patient._meta.db_table} WHERE id = %s",
                [PERSON_LOCK_CLASS, patient_id],
            )
    return Patient.objects.filter(pk=patient_id).first()


def try_lock_person(patient: Patient, *, attempts: int = 1) -> bool:
    """For paths that already hold slot locks: never wait in line (that could deadlock), retry briefly."""
    for attempt in range(attempts):
        if lock_person(patient, wait=False):
            return True
        if attempt + 1 < attempts:
            time.sleep(0.02)
    return False


def read_schedule_fenced(schedule_id: int) -> Schedule:
    """The schedule under a share lock (PostgreSQL): a concurrent 停诊 or draw is waited for, not missed."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Schedule._meta.db_table} WHERE id = %s FOR SHARE", [schedule_id])
    return Schedule.objects.select_related("doctor__hospital", "department").get(pk=schedule_id)


def lock_slots(*, schedule_id: int, **filters) -> list[Slot]:
    """Lock a session's slots in id order (the module's lock order)."""
    return list(Slot.objects.select_for_update().filter(schedule_id=schedule_id, **filters).order_by("pk"))


def lock_slots_by_id(slot_ids) -> dict[int, Slot]:
    """Lock any slots (of any sessions) in id order, with their session, doctor and department."""
    queryset = (
        Slot.objects.select_for_update(of=("self",))
        .select_related("schedule__doctor__hospital", "schedule__department")
        .filter(pk__in=set(slot_ids))
        .order_by("pk")
    )
    return {slot.pk: slot for slot in queryset}


# ---------------------------------------------------------------------------------------------
# The sold-out mark and the browse cache: told about every change to a slot's places

SOLD_OUT_SECONDS = 10  # the longest a mark that raced with a freeing can refuse a free place
SOLD_OUT_CHANNELS = tuple(channel for channel in Channel.values if channel not in STAFF_CHANNELS)


def _sold_out_key(slot_id: int, channel: str) -> str:
    return f"booking:sold-out:{slot_id}:{channel}"


def sold_out_schedule(*, slot_id: int, channel: str, count_at: float | None = None) -> int | None:
    """The slot's session id if a conditional UPDATE recently found it full in `channel`, else None
    (one cache read, no SQL: the mark holds the session id, so a refusal needs nothing else).

    With `count_at` (a time), a refusal it tells of is also counted as a refused attempt
    (booking.attempts), in the same cache round trip where it can be.

    Staff channels are never refused on it: they may draw on the online pool once their reserve
    was released. A cache that cannot be reached says "not known": the database decides.
    """
    if channel not in SOLD_OUT_CHANNELS:
        return None
    try:
        if count_at is not None:
            return attempts.read_mark_and_count(mark_key=_sold_out_key(slot_id, channel), now=count_at)
        return cache.get(_sold_out_key(slot_id, channel))
    except Exception:  # the cache is an optimisation; the booking goes on to the database
        logger.warning("sold-out mark unreadable for slot %s", slot_id, exc_info=True)
        return None


def mark_sold_out(*, slot: Slot, channel: str) -> None:
    """Remember that the conditional UPDATE found no place (a fact as of the last commit it saw)."""
    if channel not in SOLD_OUT_CHANNELS:
        return
    try:
        cache.set(_sold_out_key(slot.pk, channel), slot.schedule_id, SOLD_OUT_SECONDS)
    except Exception:
        logger.warning("sold-out mark not written for slot %s", slot.pk, exc_info=True)


def after_places_changed(slot_ids: tuple[int, ...], doctor_ids: tuple[int, ...], freed: bool) -> None:
    if freed:
        try:
            cache.delete_many([_sold_out_key(pk, channel) for pk in slot_ids for channel in SOLD_OUT_CHANNELS])
        except Exception:  # the mark then lapses by itself after SOLD_OUT_SECONDS
            logger.warning("sold-out marks not cleared for slots %s", slot_ids, exc_info=True)
    for doctor_id in doctor_ids:
        forget_doctor_schedules(doctor_id=doctor_id)


def places_changed(*, slots, freed: bool) -> None:
    """Call inside the transaction that took, freed, added or closed places in `slots`.

    Now and again once it commits (a reader in between may have cached the state before the
    commit): the doctors' cached schedules (places left) are dropped, and with `freed` the slots'
    sold-out marks are cleared. Every path that frees a place must pass `freed=True`.
    """
    slots = list(slots)
    if not slots:
        return
    doctor_ids = {slot.schedule.doctor_id for slot in slots if Slot.schedule.is_cached(slot)}
    unknown = {slot.schedule_id for slot in slots if not Slot.schedule.is_cached(slot)}
    if unknown:
        doctor_ids.update(Schedule.objects.filter(pk__in=unknown).values_list("doctor_id", flat=True))
    callback = partial(after_places_changed, tuple(slot.pk for slot in slots), tuple(sorted(doctor_ids)), freed)
    callback()  # now as well: a reader in between only re-reads the database, and tests see it without a commit
    transaction.on_commit(callback, robust=True)


# ---------------------------------------------------------------------------------------------
# Taking and giving back places


def take_place(*, slot_id: int, channel: str) -> bool:
    """The one conditional UPDATE that takes a place: no read-then-write, the row count says who won.

    Once the window's and the clinic's unused reserves have gone online (the evening before),
    those channels draw on the shared online pool: a second conditional UPDATE moves one online
    place into the channel and takes it, so the appointment still counts in its own channel.
    """
    booked, capacity = f"{channel}_booked", f"{channel}_capacity"
    slots = Slot.objects.filter(pk=slot_id, is_open=True)
    if slots.filter(**{f"{booked}__lt": F(capacity)}).update(booked=F("booked") + 1, **{booked: F(booked) + 1}):
        return True
    if channel not in STAFF_CHANNELS:
        return False
    (released_flag,) = (flag for flag, channels in RESERVE_RELEASE_FLAGS.items() if channel in channels)
    return bool(
        slots.filter(**{f"{released_flag}__isnull": False}, online_booked__lt=F("online_capacity")).update(
            online_capacity=F("online_capacity") - 1,
            booked=F("booked") + 1,
            **{capacity: F(capacity) + 1, booked: F(booked) + 1},
        )
    )


def give_back_place(*, slot: Slot, channel: str) -> str:
    """Return a freed place to its channel, or to `online` once that channel's reserve was released.

    The caller holds the slot's row lock, so the released flags read from `slot` are current.
    Returns the channel the place went to.
    """
    booked, capacity = f"{channel}_booked", f"{channel}_capacity"
    changes = {"booked": F("booked") - 1, booked: F(booked) - 1}
    returned_to = channel
    if channel != Channel.ONLINE and slot.channel_released(channel):
        changes.update({capacity: F(capacity) - 1, "online_capacity": F("online_capacity") + 1})
        returned_to = Channel.ONLINE
    Slot.objects.filter(pk=slot.pk).update(**changes)
    places_changed(slots=[slot], freed=True)
    return returned_to


def assign_number(*, slot: Slot) -> tuple[int, datetime.datetime]:
    """就诊序号 and estimated time. The caller has just taken a place, so it holds the slot's lock.

    A regular place gets the lowest free number of the slot's own range, so numbers follow the
    clock; a place beyond the regular ones (加号) gets the next number after the session's last.
    """
    first, regular = slot.first_number, slot.regular_places
    used = set(
        Appointment.objects.filter(
            slot_id=slot.pk,
            status__in=Appointment.PLACE_HOLDING,
            queue_number__gte=first,
            queue_number__lt=first + regular,
        ).values_list("queue_number", flat=True)
    )
    index = next((i for i in range(regular) if first + i not in used), None)
    if index is None:
        Schedule.objects.filter(pk=slot.schedule_id).update(last_queue_number=F("last_queue_number") + 1)
        number = Schedule.objects.values_list("last_queue_number", flat=True).get(pk=slot.schedule_id)
        return number, slot.end_at
    step = (slot.end_at - slot.start_at) / max(regular, 1)
    return first + index, slot.start_at + step * index


def pays_online_for(*, schedule: Schedule, rules: BookingRules, channel: str) -> bool:
    """Whether an order in this session is paid online before the visit (else at the desk, or free)."""
    return schedule.fee_fen > 0 and not rules.pay_at_desk and channel not in STAFF_CHANNELS


def new_order_no(now: datetime.datetime) -> str:
    return f"{timezone.localtime(now):%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def place_appointment(
    *,
    slot: Slot,
    patient: Patient,
    channel: str,
    user,
    partner: Partner | None,
    rules: BookingRules,
    now: datetime.datetime,
    payment_minutes: int,
    idempotency_key: str | None = None,
    idempotency_body: str = "",
    place_taken: bool = False,
    savepoint: bool = True,
    **overrides,
) -> Appointment:
    """Take a place and write the order. Must run inside the caller's transaction.

    `place_taken`: the caller already took the place with `take_place` (a reschedule takes the new
    place, then releases the old one, then writes the order). `overrides` replace computed fields.
    `savepoint=False` (the booking fast path, PostgreSQL): the order's INSERT runs without its own
    savepoint, so a unique-constraint IntegrityError aborts the caller's whole transaction, which
    must be rolled back and the error read with `conflict_of` (its place is given back by the rollback).
    """
    schedule = slot.schedule
    if not place_taken and not take_place(slot_id=slot.pk, channel=channel):
        raise_not_placed(slot=slot, channel=channel)
    places_changed(slots=[slot], freed=False)
    queue_number, estimated_at = assign_number(slot=slot)
    pays_online = pays_online_for(schedule=schedule, rules=rules, channel=channel)
    deadline = min(now + datetime.timedelta(minutes=payment_minutes), slot.start_at) if pays_online else None
    fields = {
        "patient": patient,
        "person_key": patient.person_key,
        "hospital": schedule.doctor.hospital,
        "department": schedule.department,
        "doctor": schedule.doctor,
        "schedule": schedule,
        "slot": slot,
        "visit_date": schedule.date,
        "channel": channel,
        "booked_by_id": user.pk,  # the id: the signed-in account's row need not be read (accounts.headless)
        "partner": partner,
        "status": Status.PENDING_PAYMENT if pays_online else Status.CONFIRMED,
        "queue_number": queue_number,
        "estimated_at": estimated_at,
        "fee_fen": schedule.fee_fen,
        "payment_deadline": deadline,
        "rules_version": rules.version,
        "rules_snapshot": rules.snapshot(),
        "idempotency_key": idempotency_key,
        "idempotency_body": idempotency_body,
    }
    carried_order_no = overrides.pop("order_no", None)  # a reschedule keeps a paid order's number
    fields.update(overrides)
    if not savepoint:
        return Appointment.objects.create(order_no=carried_order_no or new_order_no(now), **fields)
    for _attempt in range(1 if carried_order_no else 3):
        order_no = carried_order_no or new_order_no(now)
        try:
            with transaction.atomic():
                return Appointment.objects.create(order_no=order_no, **fields)
        except IntegrityError as exc:
            name = violated_constraint(exc) or _appointment_conflict(order_no=order_no, fields=fields)
            if name in IDEMPOTENCY_CONSTRAINTS:
                raise IdempotentReplay() from exc
            if name == ORDER_NO_CONSTRAINT:
                continue
            if name in ONE_ACTIVE_CONSTRAINTS:
                raise errors.DuplicateBooking() from exc
            raise
    raise RuntimeError("could not draw (or keep) a unique order number")


IDEMPOTENCY_CONSTRAINTS = ("booking_appointment_idempotency_key", "booking_appointment_idempotency_key_per_partner")
ORDER_NO_CONSTRAINT = "booking_appointment_order_no_key"  # PostgreSQL's name for the unique column
ONE_ACTIVE_CONSTRAINTS = (
    "booking_appointment_one_active_per_patient_doctor_day",
    "booking_appointment_one_active_per_person_doctor_day",
)


def conflict_of(exc: IntegrityError) -> Exception | None:
    """What an order INSERT's IntegrityError means (PostgreSQL names the constraint), once its
    transaction was rolled back: `IdempotentReplay`, `DuplicateBooking`, or None for an order
    number drawn twice (try again). Any other constraint is a bug, and the error is raised again."""
    name = violated_constraint(exc)
    if name in IDEMPOTENCY_CONSTRAINTS:
        return IdempotentReplay()
    if name in ONE_ACTIVE_CONSTRAINTS:
        return errors.DuplicateBooking()
    if name == ORDER_NO_CONSTRAINT:
        return None
    raise exc


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an IntegrityError broke, from the driver's diagnostics (psycopg)."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _appointment_conflict(*, order_no: str, fields: dict) -> str | None:
    """Which constraint an insert broke, asked of the table itself where the driver does not say (SQLite)."""
    existing = Appointment.objects.all()
    if fields["idempotency_key"] and (
        existing.filter(booked_by_id=fields["booked_by_id"], idempotency_key=fields["idempotency_key"]).exists()
        or (
            fields["partner"] is not None
            and existing.filter(partner=fields["partner"], idempotency_key=fields["idempotency_key"]).exists()
        )
    ):
        return IDEMPOTENCY_CONSTRAINTS[0]
    if existing.filter(order_no=order_no).exists():
        return ORDER_NO_CONSTRAINT
    active = existing.filter(doctor=fields["doctor"], visit_date=fields["visit_date"], status__in=Appointment.ACTIVE)
    if active.filter(Q(person_key=fields["person_key"]) | Q(patient=fields["patient"])).exists():
        return ONE_ACTIVE_CONSTRAINTS[0]
    return None


def raise_not_placed(*, slot: Slot, channel: str):
    """After a conditional UPDATE took nothing: the slot was closed (停诊) meanwhile, or it is full."""
    current = Slot.objects.filter(pk=slot.pk).values("is_open").first()
    if current is None or not current["is_open"]:
        raise errors.ScheduleUnavailable()
    mark_sold_out(slot=slot, channel=channel)
    raise_slot_full(channel=channel, schedule_id=slot.schedule_id)


def raise_slot_full(*, channel: str, schedule_id: int, counted: bool = False):
    """Patients are told the slot is full; staff are told which channel. The error carries the
    session's id for the attempt counters (booking.attempts), not in its body, and whether they
    have counted it already."""
    if channel in STAFF_CHANNELS:
        error = errors.SlotFull(message=_("该时段“%(channel)s”渠道的号源已约满。"), channel=str(Channel(channel).label))
    else:
        error = errors.SlotFull()
    error.schedule_id = schedule_id
    error.counted = counted
    raise error


def lock_appointment(appointment_id: int) -> tuple[Slot, Appointment]:
    """Lock slot, then appointment (the module's lock order)."""
    slot_id = Appointment.objects.values_list("slot_id", flat=True).get(pk=appointment_id)
    slot = load_slot(slot_id, lock=True)
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient__user", "schedule", "doctor")
        .get(pk=appointment_id)
    )
    return slot, appointment


# ---------------------------------------------------------------------------------------------
# Status changes


class IllegalTransition(Exception):
    """A service asked for a status change `Appointment.TRANSITIONS` does not allow: a bug, not a user error."""


def change_status(*, appointment_id: int, to: str, only_from: tuple[str, ...] | None = None, **fields) -> bool:
    """The one way an appointment's status changes (the order is created in its first status).

    A conditional UPDATE from the statuses `Appointment.TRANSITIONS` allows to move to `to`,
    narrowed to `only_from` when given: the row count says whether the move happened, so a
    caller without a lock learns it lost a race, and no caller can make an illegal move.
    """
    allowed = {source for source, targets in Appointment.TRANSITIONS.items() if to in targets}
    if only_from is not None:
        if not set(only_from) <= allowed:
            raise IllegalTransition(f"{sorted(set(only_from) - allowed)} → {to} is not in Appointment.TRANSITIONS")
        allowed = set(only_from)
    if not allowed:
        raise IllegalTransition(f"nothing moves to {to}")
    fields.setdefault("updated_at", timezone.now())
    changed = bool(Appointment.objects.filter(pk=appointment_id, status__in=allowed).update(status=to, **fields))
    if changed:
        appointment_status_changed.send(sender=Appointment, appointment_id=appointment_id, status=to)
    return changed
