"""Allocation policies: first come first served, lottery (抽签) and priority (优先级分配).

All three answer one question — in which order do the requests get places — through
`AllocationPolicy.order(requests, seed)`. FCFS is the order of arrival and is applied live by
`booking.services.book_slot`; lottery and priority collect requests in a window and are drawn
by `draw_schedule` when it closes.

The draw is reproducible: the seed is stored on the schedule, the lottery order is a seeded
shuffle of the requests sorted by id, and `verify_draw` recomputes it and checks the outcome.

Priority score (higher first; ties broken by the same seeded lottery order):
- condition urgency: 常规 0, 较急 20, 转诊/术后复查 30, 紧急 40;
- age on the visit date: 80 and over 30, 65–79 20, 6 and under 20, 7–14 10;
- waiting: one point per day since the person's earliest unsuccessful request for the same
  doctor within the last 90 days, at most 30.
"""

import datetime
import logging
import random
import secrets
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Protocol

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Patient
from booking import eligibility, errors, notices, places
from booking.models import Appointment, BookingRequest, DrawRecord
from booking.services import withdraw_own
from hospital.channels import Channel
from scheduling.models import AllocationPolicy as PolicyName
from scheduling.models import Schedule, Slot

logger = logging.getLogger(__name__)

URGENCY_POINTS = {
    BookingRequest.Urgency.ROUTINE: 0,
    BookingRequest.Urgency.SOON: 20,
    BookingRequest.Urgency.REFERRAL: 30,
    BookingRequest.Urgency.URGENT: 40,
}
WAITING_LOOKBACK_DAYS = 90
WAITING_MAX_POINTS = 30


def age_points(age: int) -> int:
    if age >= 80:
        return 30
    if age >= 65 or age <= 6:
        return 20
    if age <= 14:
        return 10
    return 0


def waiting_days(*, request: BookingRequest, now: datetime.datetime) -> int:
    earliest = (
        BookingRequest.objects.filter(
            person_key=request.person_key,
            schedule__doctor_id=request.schedule.doctor_id,
            status__in=[BookingRequest.Status.LOST, BookingRequest.Status.INELIGIBLE],
            created_at__gte=now - datetime.timedelta(days=WAITING_LOOKBACK_DAYS),
        )
        .exclude(pk=request.pk)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (now - earliest).days if earliest else 0


def score_of(*, urgency: int, age: int, waiting: int) -> int:
    """The priority score from its three attributes (the weights in the module docstring)."""
    return URGENCY_POINTS[BookingRequest.Urgency(urgency)] + age_points(age) + min(waiting, WAITING_MAX_POINTS)


def priority_score(*, request: BookingRequest, now: datetime.datetime) -> int:
    return score_of(
        urgency=request.urgency,
        age=request.patient.age_on(request.schedule.date),
        waiting=waiting_days(request=request, now=now),
    )


class AllocationPolicy(Protocol):
    def order(self, requests: list[BookingRequest], seed: int) -> list[BookingRequest]: ...


class FirstComeFirstServed:
    def order(self, requests, seed):
        return sorted(requests, key=lambda r: (r.created_at, r.pk))


class Lottery:
    def order(self, requests, seed):
        ordered = sorted(requests, key=lambda r: r.pk)
        random.Random(seed).shuffle(ordered)
        return ordered


class Priority:
    """Scores must already be stored on the requests (the draw stores them before ordering)."""

    def order(self, requests, seed):
        lottery_rank = {r.pk: rank for rank, r in enumerate(Lottery().order(requests, seed))}
        return sorted(requests, key=lambda r: (-r.score, lottery_rank[r.pk]))


POLICIES: dict[str, AllocationPolicy] = {
    PolicyName.FCFS: FirstComeFirstServed(),
    PolicyName.LOTTERY: Lottery(),
    PolicyName.PRIORITY: Priority(),
}


def request_booking(
    *,
    user,
    patient: Patient,
    schedule: Schedule,
    urgency: int = BookingRequest.Urgency.ROUTINE,
    channel: str = Channel.ONLINE,
    now: datetime.datetime | None = None,
) -> BookingRequest:
    """Enter a lottery or priority session during its request window."""
    now = now or timezone.now()
    if isinstance(urgency, bool) or urgency not in BookingRequest.Urgency.values:
        raise errors.InvalidUrgency()
    if channel not in (Channel.ONLINE, Channel.PARTNER):
        raise ValueError("requests come from patients or partners")
    with transaction.atomic():
        hospital_id = Schedule.objects.values_list("doctor__hospital_id", flat=True).get(pk=schedule.pk)
        eligibility.check_actor(user=user, patient=patient, channel=channel, hospital_id=hospital_id)
        places.lock_person(patient)
        patient = Patient.objects.get(pk=patient.pk)
        schedule = places.read_schedule_fenced(schedule.pk)
        if schedule.status != Schedule.Status.PUBLISHED:
            raise errors.ScheduleUnavailable()
        if not schedule.uses_requests:
            raise errors.RequestWindowClosed(message=_("该号源先到先得，请直接预约。"), opens="", closes="")
        if not (schedule.release_at <= now < schedule.request_closes_at) or schedule.drawn_at is not None:
            raise errors.RequestWindowClosed(
                opens=eligibility.local_text(schedule.release_at),
                closes=eligibility.local_text(schedule.request_closes_at),
            )
        rules = eligibility.schedule_rules(schedule)
        eligibility.check_person(patient=patient, schedule=schedule, rules=rules, channel=channel, now=now)
        try:
            with transaction.atomic():
                return BookingRequest.objects.create(
                    schedule=schedule,
                    patient=patient,
                    person_key=patient.person_key,
                    booked_by=user,
                    channel=channel,
                    urgency=urgency,
                )
        except IntegrityError as exc:
            # None: the driver names no constraint (SQLite); this is the table's only unique one.
            if places.violated_constraint(exc) not in ("booking_request_one_per_person_schedule", None):
                raise
            raise errors.DuplicateRequest() from exc


def withdraw_request(*, user, request: BookingRequest) -> BookingRequest:
    return withdraw_own(
        user=user, entry=request, waiting=BookingRequest.Status.PENDING, withdrawn=BookingRequest.Status.WITHDRAWN
    )


@dataclass(frozen=True)
class DrawResult:
    schedule_id: int
    seed: int
    winners: list[int]  # request ids, in draw order
    losers: list[int]
    ineligible: list[int]


def _drawn_requests(schedule: Schedule) -> list[BookingRequest]:
    return list(
        BookingRequest.objects.filter(schedule=schedule)
        .exclude(status__in=[BookingRequest.Status.WITHDRAWN, BookingRequest.Status.CANCELLED])
        .select_related("patient__user", "schedule__doctor", "booked_by")
    )


def draw_schedule(*, schedule: Schedule, now: datetime.datetime | None = None, seed: int | None = None) -> DrawResult:
    """Draw a lottery or priority session once its request window has closed.

    Winners, in draw order, take the earliest slot with a free place in their channel and get a
    `pending_payment` appointment; a request whose person is no longer eligible (banned, already
    booked with the doctor that day, over a limit) is passed over; the rest are told and may
    join the waitlist. Drawing twice is refused.
    """
    now = now or timezone.now()
    with transaction.atomic():
        places.lock_slots(schedule_id=schedule.pk)  # slots before the schedule: the lock order of booking.places
        schedule = (
            Schedule.objects.select_for_update(of=("self",)).select_related("doctor", "department").get(pk=schedule.pk)
        )
        if (
            not schedule.uses_requests
            or schedule.drawn_at is not None
            or schedule.status != Schedule.Status.PUBLISHED
            or schedule.request_closes_at is None
            or now < schedule.request_closes_at
        ):
            raise errors.DrawNotDue()
        seed = secrets.randbits(62) if seed is None else seed
        Schedule.objects.filter(pk=schedule.pk).update(draw_seed=seed, drawn_at=now)
        schedule.draw_seed, schedule.drawn_at = seed, now
        requests = _drawn_requests(schedule)
        entries = {request.pk: _entry_at_close(request=request, schedule=schedule, now=now) for request in requests}
        if schedule.allocation_policy == PolicyName.PRIORITY:
            for request in requests:
                request.score = _expected_score(entries[request.pk], policy=schedule.allocation_policy)
                BookingRequest.objects.filter(pk=request.pk).update(score=request.score)
        ordered = POLICIES[schedule.allocation_policy].order(requests, seed)
        rules = eligibility.schedule_rules(schedule)
        slots = list(
            Slot.objects.select_related("schedule__doctor", "schedule__department")
            .filter(schedule=schedule, is_open=True)
            .order_by("start_at")
        )
        places_at_draw = _free_places(slots)
        winners, losers, ineligible = [], [], []
        for rank, request in enumerate(ordered, start=1):
            outcome = {"draw_rank": rank}
            try:
                if not places.try_lock_person(request.patient, attempts=25):
                    raise errors.BookingError(message=_("该就诊人正在办理其他预约"))
                eligibility.check_person(
                    patient=request.patient, schedule=schedule, rules=rules, channel=request.channel, now=now
                )
            except errors.BookingError as exc:
                outcome.update(status=BookingRequest.Status.INELIGIBLE, result_note=exc.detail[:200])
                ineligible.append(request.pk)
                entries[request.pk]["eligible"] = False
            else:
                appointment = _place_in_first_free_slot(request=request, slots=slots, rules=rules, now=now)
                if appointment is None:
                    outcome.update(status=BookingRequest.Status.LOST, result_note=_("未中签"))
                    losers.append(request.pk)
                else:
                    outcome.update(status=BookingRequest.Status.WON, appointment=appointment, result_note=_("中签"))
                    winners.append(request.pk)
                    notices.lottery_won(appointment)
            BookingRequest.objects.filter(pk=request.pk).update(**outcome)
            if outcome["status"] != BookingRequest.Status.WON:
                request.status = outcome["status"]
                notices.lottery_lost(request)
        DrawRecord.objects.create(
            schedule=schedule,
            policy=schedule.allocation_policy,
            seed=seed,
            drawn_at=now,
            places=places_at_draw,
            places_left=_free_places(Slot.objects.filter(schedule=schedule, is_open=True)),
            entries=[entries[request.pk] for request in sorted(requests, key=lambda r: r.pk)],
        )
    return DrawResult(schedule_id=schedule.pk, seed=seed, winners=winners, losers=losers, ineligible=ineligible)


def _entry_at_close(*, request: BookingRequest, schedule: Schedule, now: datetime.datetime) -> dict:
    """An entry as it stood at the close: who, in which channel, and what its priority score comes from."""
    return {
        "id": request.pk,
        "patient": request.patient_id,
        "person": request.person_key,
        "channel": request.channel,
        "urgency": request.urgency,
        "age": request.patient.age_on(schedule.date),
        "waiting_days": waiting_days(request=request, now=now),
        "eligible": True,  # set to False when the draw passes it over
    }


def _expected_score(entry: dict, *, policy: str) -> int:
    if policy != PolicyName.PRIORITY:
        return 0  # a lottery scores nobody
    return score_of(urgency=entry["urgency"], age=entry["age"], waiting=entry["waiting_days"])


def _free_places(slots) -> dict[str, int]:
    return {channel: sum(slot.free_of(channel) for slot in slots) for channel in Channel.values}


def _place_in_first_free_slot(*, request, slots, rules, now) -> Appointment | None:
    for slot in slots:
        if slot.free_of(request.channel) <= 0:
            continue
        try:
            with transaction.atomic():
                appointment = places.place_appointment(
                    slot=slot,
                    patient=request.patient,
                    channel=request.channel,
                    user=request.booked_by,
                    partner=getattr(request.booked_by, "partner", None) if request.channel == Channel.PARTNER else None,
                    rules=rules,
                    now=now,
                    # Winners learn of it by SMS, maybe hours after they asked: the waitlist's longer time.
                    payment_minutes=rules.waitlist_payment_minutes,
                )
        except errors.SlotFull:
            continue
        slot.refresh_from_db()
        return appointment
    return None


@dataclass(frozen=True)
class DrawCheck:
    ok: bool
    expected_order: list[int]
    recorded_order: list[int]
    expected_winners: list[int]
    recorded_winners: list[int]
    problems: list[str] = field(default_factory=list)


def verify_draw(*, schedule: Schedule) -> DrawCheck:
    """Recompute the whole draw from what it started from and compare it with what is stored.

    The inputs are the draw's record (`DrawRecord`, written in the draw's transaction): the
    entries as they were at the close, the seed and the places each channel had. From them the
    draw is run again: priority scores recomputed from the entries' attributes, the seeded order,
    and each channel's places given in that order to that channel's eligible entries. Every
    stored row must agree: the schedule's seed, each request's person, channel, urgency, score,
    rank and status, each winner's appointment (its patient, person, session and channel), no
    appointment for anyone else, and the places left after the draw.
    """
    schedule = Schedule.objects.get(pk=schedule.pk)
    if schedule.draw_seed is None and schedule.drawn_at is None:
        raise errors.DrawNotDue()
    rows = {
        r.pk: r
        for r in BookingRequest.objects.filter(schedule=schedule).select_related("appointment")
        if r.status not in (BookingRequest.Status.WITHDRAWN, BookingRequest.Status.CANCELLED)
    }
    recorded_order = [pk for pk, _r in sorted(rows.items(), key=lambda item: (item[1].draw_rank or 0, item[0]))]
    recorded_winners = [pk for pk in recorded_order if rows[pk].status == BookingRequest.Status.WON]
    record = DrawRecord.objects.filter(schedule=schedule).first()
    if record is None:
        return DrawCheck(False, [], recorded_order, [], recorded_winners, problems=["no draw record"])
    problems = []
    if record.seed != schedule.draw_seed:
        problems.append(f"seed: recorded {record.seed}, schedule {schedule.draw_seed}")
    if record.policy != schedule.allocation_policy:
        problems.append(f"policy: recorded {record.policy}, schedule {schedule.allocation_policy}")
    entries = {entry["id"]: entry for entry in record.entries}
    if set(entries) != set(rows):
        problems.append(f"entries: recorded {sorted(entries)}, stored {sorted(rows)}")

    candidates = [SimpleNamespace(pk=pk, score=_expected_score(e, policy=record.policy)) for pk, e in entries.items()]
    expected_order = [c.pk for c in POLICIES[record.policy].order(candidates, record.seed)]
    left = {channel: int(count) for channel, count in record.places.items()}
    expected_status = {}
    for pk in expected_order:
        channel = entries[pk]["channel"]
        if not entries[pk]["eligible"]:
            expected_status[pk] = BookingRequest.Status.INELIGIBLE
        elif left.get(channel, 0) > 0:
            expected_status[pk] = BookingRequest.Status.WON
            left[channel] -= 1
        else:
            expected_status[pk] = BookingRequest.Status.LOST
    if left != record.places_left:
        problems.append(f"places: {record.places} less the winners is {left}, recorded left {record.places_left}")
    expected_winners = [pk for pk in expected_order if expected_status[pk] == BookingRequest.Status.WON]

    for rank, pk in enumerate(expected_order, start=1):
        entry, row = entries[pk], rows.get(pk)
        if row is None:
            continue
        stored = (row.patient_id, row.person_key, row.channel, row.urgency, row.score, row.draw_rank, row.status)
        expected = (
            entry["patient"],
            entry["person"],
            entry["channel"],
            entry["urgency"],
            _expected_score(entry, policy=record.policy),
            rank,
            expected_status[pk],
        )
        if stored != expected:
            problems.append(f"request {pk}: stored {stored}, expected {expected}")
        appointment = row.appointment
        if expected_status[pk] != BookingRequest.Status.WON:
            if appointment is not None:
                problems.append(f"request {pk} did not win but holds appointment {appointment.pk}")
        elif appointment is None or (
            appointment.patient_id,
            appointment.person_key,
            appointment.schedule_id,
            appointment.channel,
        ) != (entry["patient"], entry["person"], schedule.pk, entry["channel"]):
            problems.append(f"request {pk}: the winner's appointment is not theirs in this session")
    return DrawCheck(
        ok=not problems and expected_order == recorded_order and expected_winners == recorded_winners,
        expected_order=expected_order,
        recorded_order=recorded_order,
        expected_winners=expected_winners,
        recorded_winners=recorded_winners,
        problems=problems,
    )


def draw_due_schedules(*, now: datetime.datetime | None = None) -> list[DrawResult]:
    """Draw every lottery or priority session whose request window has closed, each in its own transaction."""
    now = now or timezone.now()
    due = Schedule.objects.filter(
        status=Schedule.Status.PUBLISHED,
        allocation_policy__in=[PolicyName.LOTTERY, PolicyName.PRIORITY],
        drawn_at__isnull=True,
        request_closes_at__lte=now,
    ).values_list("pk", flat=True)
    results = []
    for schedule_id in list(due):
        try:
            results.append(draw_schedule(schedule=Schedule(pk=schedule_id), now=now))
        except errors.DrawNotDue:
            continue  # another worker drew it first
        except Exception:  # one broken session must not stop every other draw, every minute
            logger.exception("draw of schedule %s failed; it will be tried again", schedule_id)
    return results
