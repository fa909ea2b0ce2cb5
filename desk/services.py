"""The desk's actions: window booking (代挂号), the doctor's follow-up (诊间预约), 停诊 requests,
the export and the nightly statistics. Places are only ever taken through booking.services."""

import csv
import datetime
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Patient
from accounts.services import create_patient
from booking import services as booking
from booking.models import Appointment, WaitlistEntry
from config.errors import DomainError
from config.money import fen_to_yuan
from desk.models import DailyStatistics, SuspensionRequest
from hospital import audit
from hospital.channels import Channel
from hospital.models import AuditRecord, Hospital, HospitalStaff
from hospital.roles import doctor_id_of, may_manage_schedule, staff_role
from scheduling.models import Schedule, Slot

Action = AuditRecord.Action
Status = Appointment.Status
WINDOW_ROLES = ("superuser", HospitalStaff.Role.HOSPITAL_ADMIN, HospitalStaff.Role.FRONT_DESK)


class DeskError(DomainError):
    status = 403


class NotAllowedHere(DeskError):
    code = "desk_not_allowed"
    message = _("您的角色不能进行此操作。")


class NotYourPatient(DeskError):
    code = "not_your_patient"
    status = 404
    message = _("只能为本人接诊的患者预约复诊。")


class SuspensionAlreadyRequested(DeskError):
    code = "suspension_already_requested"
    status = 409
    message = _("该出诊已有待确认的停诊申请。")


class SuspensionNotPending(DeskError):
    code = "suspension_not_pending"
    status = 409
    message = _("该停诊申请已处理。")


def _require_role(*, user, hospital_id: int, roles) -> str:
    role = staff_role(user=user, hospital_id=hospital_id)
    if role not in roles:
        raise NotAllowedHere()
    return role


# ---------------------------------------------------------------------------------------------
# 代挂号


def register_walk_in(*, by, hospital_id: int, **fields) -> Patient:
    """Register the person at the window as a 就诊人 of no account, validated like any other (real name)."""
    _require_role(user=by, hospital_id=hospital_id, roles=WINDOW_ROLES)
    return create_patient(user=None, **fields)


def book_at_window(*, by, patient: Patient, slot: Slot, now: datetime.datetime | None = None) -> Appointment:
    """Book in the `window` channel for the person at the window; audited in the booking's transaction."""
    hospital_id = Slot.objects.values_list("schedule__doctor__hospital_id", flat=True).get(pk=slot.pk)
    _require_role(user=by, hospital_id=hospital_id, roles=WINDOW_ROLES)
    with transaction.atomic():
        appointment = booking.book_slot(user=by, patient=patient, slot=slot, channel=Channel.WINDOW, now=now)
        audit.record(
            hospital_id=hospital_id,
            actor=by,
            action=Action.WINDOW_BOOKED,
            target=appointment,
            target_repr=appointment.order_no,
            changes={"slot": str(slot), "queue_number": appointment.queue_number, "fee_fen": appointment.fee_fen},
        )
    return appointment


def book_follow_up(
    *, by, seen: Appointment, slot: Slot, note: str = "", now: datetime.datetime | None = None
) -> Appointment:
    """诊间预约: the doctor books a patient they have seen into a later session of theirs or of a
    colleague in the same department, in the `clinic` channel. The patient gets the booking SMS."""
    target = Slot.objects.select_related("schedule__doctor").get(pk=slot.pk)
    hospital_id = target.schedule.doctor.hospital_id
    doctor_id = doctor_id_of(user=by, hospital_id=hospital_id)
    if doctor_id is None or seen.doctor_id != doctor_id or seen.hospital_id != hospital_id:
        raise NotYourPatient()
    if target.schedule.doctor_id != doctor_id and target.schedule.department_id != seen.department_id:
        raise NotAllowedHere(_("只能预约本人或同科室医生的出诊。"))
    with transaction.atomic():
        appointment = booking.book_slot(user=by, patient=seen.patient, slot=target, channel=Channel.CLINIC, now=now)
        audit.record(
            hospital_id=hospital_id,
            actor=by,
            action=Action.CLINIC_BOOKED,
            target=appointment,
            target_repr=appointment.order_no,
            changes={"slot": str(target), "from_order": seen.order_no, "queue_number": appointment.queue_number},
            reason=note,
        )
    return appointment


# ---------------------------------------------------------------------------------------------
# 停诊: the doctor asks, a hospital_admin or the department's scheduler decides


def request_suspension(*, by, schedule: Schedule, reason: str) -> SuspensionRequest:
    schedule = Schedule.objects.select_related("doctor").get(pk=schedule.pk)
    if doctor_id_of(user=by, hospital_id=schedule.doctor.hospital_id) != schedule.doctor_id:
        raise NotYourPatient(_("只能为本人的出诊申请停诊。"))
    if schedule.status == Schedule.Status.SUSPENDED:
        raise SuspensionNotPending(_("该出诊已停诊。"))
    try:
        with transaction.atomic():
            request = SuspensionRequest.objects.create(schedule=schedule, reason=reason[:200], requested_by=by)
            audit.record(
                hospital_id=schedule.doctor.hospital_id,
                actor=by,
                action=Action.SUSPENSION_REQUESTED,
                target=schedule,
                reason=reason,
            )
    except IntegrityError as exc:
        raise SuspensionAlreadyRequested() from exc
    return request


def _claim(request: SuspensionRequest, *, by, to: str, note: str, now) -> SuspensionRequest:
    schedule = request.schedule
    if not may_manage_schedule(user=by, hospital_id=schedule.doctor.hospital_id, department_id=schedule.department_id):
        raise NotAllowedHere()
    claimed = SuspensionRequest.objects.filter(pk=request.pk, status=SuspensionRequest.Status.PENDING).update(
        status=to, decided_by=by, decided_at=now, decision_note=note[:200]
    )
    if not claimed:
        raise SuspensionNotPending()
    return request


def confirm_suspension(*, request: SuspensionRequest, by, note: str = "", now=None) -> int:
    """Confirm the doctor's request: the session is suspended (booking.services.suspend_schedule),
    which cancels, refunds and tells every patient. Returns how many appointments were cancelled."""
    now = now or timezone.now()
    request = SuspensionRequest.objects.select_related("schedule__doctor").get(pk=request.pk)
    with transaction.atomic():
        _claim(request, by=by, to=SuspensionRequest.Status.CONFIRMED, note=note, now=now)
        return booking.suspend_schedule(schedule=request.schedule, reason=request.reason, by=by, now=now)


def reject_suspension(*, request: SuspensionRequest, by, note: str, now=None) -> SuspensionRequest:
    now = now or timezone.now()
    request = SuspensionRequest.objects.select_related("schedule__doctor").get(pk=request.pk)
    with transaction.atomic():
        _claim(request, by=by, to=SuspensionRequest.Status.REJECTED, note=note, now=now)
        audit.record(
            hospital_id=request.schedule.doctor.hospital_id,
            actor=by,
            action=Action.SUSPENSION_REJECTED,
            target=request.schedule,
            reason=note,
        )
    request.refresh_from_db()
    return request


# ---------------------------------------------------------------------------------------------
# Export

EXPORT_HEADER = [
    "订单号", "就诊日期", "就诊序号", "预计就诊时间", "科室", "医生", "就诊人", "证件号码", "手机号",
    "渠道", "状态", "挂号费（元）", "支付时间", "签到时间", "下单时间",
]  # fmt: skip


def export_appointments(*, by, hospital_id: int, start: datetime.date, end: datetime.date, stream) -> int:
    """Write the hospital's appointments visiting in [start, end] as CSV to `stream`; audited.

    ID numbers and phones stay masked: an export leaves the system, so it carries no full identity.
    """
    from desk.selectors import export_rows

    _require_role(user=by, hospital_id=hospital_id, roles=("superuser", HospitalStaff.Role.HOSPITAL_ADMIN))
    writer = csv.writer(stream)
    writer.writerow(EXPORT_HEADER)
    count = 0
    local = timezone.localtime
    for a in export_rows(hospital_id=hospital_id, start=start, end=end).iterator(chunk_size=500):
        writer.writerow([
            a.order_no, a.visit_date.isoformat(), a.queue_number, f"{local(a.estimated_at):%H:%M}",
            a.department.name, a.doctor.name, a.patient.name, a.patient.masked_id_number, a.patient.masked_phone,
            a.get_channel_display(), a.get_status_display(), fen_to_yuan(a.fee_fen),
            f"{local(a.paid_at):%Y-%m-%d %H:%M}" if a.paid_at else "",
            f"{local(a.checked_in_at):%Y-%m-%d %H:%M}" if a.checked_in_at else "",
            f"{local(a.created_at):%Y-%m-%d %H:%M}",
        ])  # fmt: skip
        count += 1
    with transaction.atomic():
        audit.record(
            hospital_id=hospital_id,
            actor=by,
            action=Action.EXPORTED,
            target_type="booking.Appointment",
            target_repr=f"{start.isoformat()} – {end.isoformat()}",
            changes={"rows": count, "start": start.isoformat(), "end": end.isoformat()},
        )
    return count


# ---------------------------------------------------------------------------------------------
# Statistics (the clock)


def _seconds_until(moments: list[datetime.datetime], *, start: datetime.datetime, nth: int) -> int | None:
    if nth <= 0 or len(moments) < nth:
        return None
    return max(int((moments[nth - 1] - start).total_seconds()), 0)


@transaction.atomic
def snapshot_day(*, hospital: Hospital, date: datetime.date, now: datetime.datetime | None = None) -> int:
    """Count one hospital's day into DailyStatistics (idempotent: rows are replaced). Returns the rows written."""
    now = now or timezone.now()
    places = defaultdict(lambda: {"capacity": 0, "booked": 0})
    release_at: dict[int, datetime.datetime] = {}
    slots = Slot.objects.filter(schedule__doctor__hospital=hospital, schedule__date=date).exclude(
        schedule__status=Schedule.Status.DRAFT
    )
    fields = {}
    for channel in Channel.values:
        fields[f"{channel}_capacity"] = Sum(f"{channel}_capacity")
        fields[f"{channel}_booked"] = Sum(f"{channel}_booked")
    for row in slots.values("schedule__department_id").annotate(**fields):
        for channel in Channel.values:
            key = (row["schedule__department_id"], channel)
            places[key]["capacity"] += row[f"{channel}_capacity"] or 0
            places[key]["booked"] += row[f"{channel}_booked"] or 0
    for department_id, moment in (
        Schedule.objects.filter(doctor__hospital=hospital, date=date)
        .values_list("department_id", "release_at")
        .order_by("release_at")
    ):
        release_at.setdefault(department_id, moment)
    appointments = Appointment.objects.filter(hospital=hospital, visit_date=date).exclude(status=Status.RESCHEDULED)
    counts = appointments.values("department_id", "channel").annotate(
        bookings=Count("pk"),
        attended=Count("pk", filter=Q(status__in=(Status.CHECKED_IN, Status.COMPLETED))),
        no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
        cancelled=Count("pk", filter=Q(status__in=(Status.CANCELLED, Status.EXPIRED, Status.REFUNDED))),
        revenue=Sum("fee_fen", filter=Q(paid_at__isnull=False, refund_requested_at__isnull=True)),
        refunds=Sum("fee_fen", filter=Q(paid_at__isnull=False, refund_requested_at__isnull=False)),
    )
    numbers = {(row["department_id"], row["channel"]): row for row in counts}
    online_moments = defaultdict(list)
    for department_id, created_at in (
        appointments.filter(channel=Channel.ONLINE).order_by("created_at").values_list("department_id", "created_at")
    ):
        online_moments[department_id].append(created_at)
    waitlist = dict(
        WaitlistEntry.objects.filter(
            schedule__doctor__hospital=hospital, schedule__date=date, status=WaitlistEntry.Status.WAITING
        )
        .values_list("schedule__department_id")
        .annotate(n=Count("pk"))
    )
    written = 0
    for key in set(places) | set(numbers):
        department_id, channel = key
        place, number = places.get(key, {"capacity": 0, "booked": 0}), numbers.get(key, {})
        values = {
            "capacity": place["capacity"],
            "booked": place["booked"],
            "bookings": number.get("bookings", 0),
            "attended": number.get("attended", 0),
            "no_shows": number.get("no_shows", 0),
            "cancelled": number.get("cancelled", 0),
            "revenue_fen": number.get("revenue") or 0,
            "refunds_fen": number.get("refunds") or 0,
            "waitlist": 0,
            "half_gone_seconds": None,
            "all_gone_seconds": None,
            "computed_at": now,
        }
        if channel == Channel.ONLINE:
            values["waitlist"] = waitlist.get(department_id, 0)
            start = release_at.get(department_id)
            moments = online_moments.get(department_id, [])
            if start is not None and place["capacity"]:
                values["half_gone_seconds"] = _seconds_until(moments, start=start, nth=(place["capacity"] + 1) // 2)
                if place["booked"] >= place["capacity"]:
                    values["all_gone_seconds"] = _seconds_until(moments, start=start, nth=place["capacity"])
        DailyStatistics.objects.update_or_create(
            hospital=hospital, date=date, department_id=department_id, channel=channel, defaults=values
        )
        written += 1
    return written


def snapshot_statistics(*, now: datetime.datetime | None = None, days_ahead: int = 14) -> int:
    """Every active hospital, from yesterday (its final count) to the end of the booking window."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    written = 0
    for hospital in Hospital.objects.filter(is_active=True):
        for offset in range(-1, days_ahead + 1):
            written += snapshot_day(hospital=hospital, date=today + datetime.timedelta(days=offset), now=now)
    return written
