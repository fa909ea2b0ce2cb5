from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner, Patient
from config.money import fen_to_yuan
from hospital.channels import Channel
from hospital.models import Department, Doctor, Hospital
from scheduling.models import Schedule, Slot


class Appointment(models.Model):
    """The order (挂号单): one patient's place in one slot."""

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("待支付")
        CONFIRMED = "confirmed", _("预约成功")
        CHECKED_IN = "checked_in", _("已签到")
        COMPLETED = "completed", _("已就诊")
        CANCELLED = "cancelled", _("已取消")
        EXPIRED = "expired", _("超时未支付")
        NO_SHOW = "no_show", _("爽约")
        REFUNDED = "refunded", _("已退款")
        RESCHEDULED = "rescheduled", _("已改约")
        # A paid order moving to a dearer place: the new place is held, the old one still stands,
        # until the difference is paid (the move completes) or its deadline passes (held place given back).
        AWAITING_DIFFERENCE = "awaiting_difference", _("改约待补差价")

    class CancelReason(models.TextChoices):
        PATIENT = "patient", _("患者取消")
        STAFF = "staff", _("医院取消")
        DOCTOR_SUSPENDED = "doctor_suspended", _("医生停诊")

    # Statuses that hold a place in the slot: the slot's `booked` counts exactly these.
    PLACE_HOLDING = (
        Status.PENDING_PAYMENT,
        Status.AWAITING_DIFFERENCE,
        Status.CONFIRMED,
        Status.CHECKED_IN,
        Status.COMPLETED,
        Status.NO_SHOW,
    )
    # Statuses that count as "an active appointment" for the one-per-doctor-per-day rule.
    ACTIVE = (Status.PENDING_PAYMENT, Status.CONFIRMED, Status.CHECKED_IN)
    TRANSITIONS = {
        Status.PENDING_PAYMENT: {Status.CONFIRMED, Status.CANCELLED, Status.EXPIRED, Status.RESCHEDULED},
        Status.CONFIRMED: {Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW, Status.RESCHEDULED},
        Status.CHECKED_IN: {Status.COMPLETED, Status.CANCELLED},
        Status.CANCELLED: {Status.REFUNDED},
        Status.EXPIRED: {Status.REFUNDED},
        # Money that reached an order after it moved away (late), or a paid order moved to a dearer
        # place it does not pay online, is refunded in full (see reschedule_appointment).
        Status.RESCHEDULED: {Status.REFUNDED},
        Status.AWAITING_DIFFERENCE: {Status.CONFIRMED, Status.EXPIRED, Status.CANCELLED},
        Status.COMPLETED: set(),
        Status.NO_SHOW: set(),
        Status.REFUNDED: set(),
    }

    order_no = models.CharField(_("订单号"), max_length=32, unique=True)
    patient = models.ForeignKey(
        Patient, verbose_name=_("就诊人"), on_delete=models.PROTECT, related_name="appointments"
    )
    person_key = models.CharField(_("身份摘要"), max_length=64, editable=False)
    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(Department, verbose_name=_("科室"), on_delete=models.PROTECT, related_name="+")
    doctor = models.ForeignKey(Doctor, verbose_name=_("医生"), on_delete=models.PROTECT, related_name="appointments")
    schedule = models.ForeignKey(
        Schedule, verbose_name=_("出诊排班"), on_delete=models.PROTECT, related_name="appointments"
    )
    slot = models.ForeignKey(Slot, verbose_name=_("号源时段"), on_delete=models.PROTECT, related_name="appointments")
    visit_date = models.DateField(_("就诊日期"))
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("预约操作人"), on_delete=models.PROTECT, related_name="+"
    )
    partner = models.ForeignKey(
        Partner,
        verbose_name=_("合作平台"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    queue_number = models.PositiveIntegerField(_("就诊序号"))
    estimated_at = models.DateTimeField(_("预计就诊时间"))
    fee_fen = models.PositiveIntegerField(_("挂号费（分）"))
    payment_deadline = models.DateTimeField(_("支付截止时间"), null=True, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("就诊完成时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=20, choices=CancelReason.choices, blank=True)
    cancel_note = models.CharField(_("取消说明"), max_length=200, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("取消操作人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rescheduled_from = models.OneToOneField(
        "self",
        verbose_name=_("改约自"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rescheduled_to",
    )
    reschedule_count = models.PositiveSmallIntegerField(_("改约次数"), default=0)
    # 改约 to a dearer place (status awaiting_difference): the order this row moves from, and the
    # fee difference owed on that order (paid as its own charge; see booking.services.reschedule_appointment).
    moving_from = models.ForeignKey(
        "self",
        verbose_name=_("改约待补差价自"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="held_moves",
    )
    difference_fen = models.PositiveIntegerField(_("改约补差价（分）"), default=0)
    refund_requested_at = models.DateTimeField(_("申请退款时间"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("退款完成时间"), null=True, blank=True)
    rules_version = models.PositiveIntegerField(_("预约规则版本"))
    rules_snapshot = models.JSONField(_("预约规则快照"), default=dict)
    idempotency_key = models.CharField(_("幂等键"), max_length=64, null=True, blank=True)
    idempotency_body = models.CharField(
        _("幂等请求摘要"),
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("首次请求的就诊人、号源和渠道的摘要：同一幂等键只能重放同一请求。"),
    )
    created_at = models.DateTimeField(_("下单时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("预约订单")
        verbose_name_plural = _("预约订单")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "doctor", "visit_date"],
                condition=Q(status__in=["pending_payment", "confirmed", "checked_in"]),
                name="booking_appointment_one_active_per_patient_doctor_day",
            ),
            models.UniqueConstraint(
                fields=["person_key", "doctor", "visit_date"],
                condition=Q(status__in=["pending_payment", "confirmed", "checked_in"]),
                name="booking_appointment_one_active_per_person_doctor_day",
            ),
            # A key's scope is the account that sent it: a patient's or staff member's own account,
            # or a partner's service account (one per partner). The second constraint states the
            # partner scope outright, so two partners' equal keys can never meet.
            models.UniqueConstraint(
                fields=["booked_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="booking_appointment_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False, partner__isnull=False),
                name="booking_appointment_idempotency_key_per_partner",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "payment_deadline"], name="booking_appt_status_deadline"),
            models.Index(fields=["person_key", "visit_date"], name="booking_appt_person_day"),
            models.Index(fields=["slot", "status"], name="booking_appt_slot_status"),
        ]

    def __str__(self):
        return self.order_no

    @property
    def holds_place(self) -> bool:
        return self.status in self.PLACE_HOLDING

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def fee_yuan(self) -> str:
        return fen_to_yuan(self.fee_fen)

    @property
    def difference_charge(self) -> str:
        """The name of this held move's fee difference among the charges of the order it moves from."""
        return f"move-{self.pk}"


class BookingRequest(models.Model):
    """An entry in a lottery or priority session, drawn when the request window closes."""

    class Status(models.TextChoices):
        PENDING = "pending", _("等待抽签")
        WON = "won", _("中签")
        LOST = "lost", _("未中签")
        INELIGIBLE = "ineligible", _("不符合预约条件")
        WITHDRAWN = "withdrawn", _("已撤回")
        CANCELLED = "cancelled", _("停诊取消")

    class Urgency(models.IntegerChoices):
        ROUTINE = 0, _("常规")
        SOON = 1, _("较急（一周内需就诊）")
        URGENT = 2, _("紧急（病情加重）")
        REFERRAL = 3, _("转诊/术后复查")

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("出诊排班"), on_delete=models.CASCADE, related_name="requests"
    )
    patient = models.ForeignKey(Patient, verbose_name=_("就诊人"), on_delete=models.PROTECT, related_name="requests")
    person_key = models.CharField(_("身份摘要"), max_length=64, editable=False)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    urgency = models.PositiveSmallIntegerField(_("病情紧急程度"), choices=Urgency.choices, default=Urgency.ROUTINE)
    score = models.IntegerField(_("优先级得分"), default=0)
    draw_rank = models.PositiveIntegerField(_("抽签顺序"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PENDING)
    result_note = models.CharField(_("结果说明"), max_length=200, blank=True)
    appointment = models.OneToOneField(
        Appointment,
        verbose_name=_("预约订单"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="request",
    )
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("抽签/优先分配申请")
        verbose_name_plural = _("抽签/优先分配申请")
        ordering = ["schedule_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "person_key"],
                condition=~Q(status="withdrawn"),
                name="booking_request_one_per_person_schedule",
            ),
        ]

    def __str__(self):
        return f"{self.patient} → {self.schedule}"


class WaitlistEntry(models.Model):
    """候补: a place in line for a full session; the earliest eligible entry gets a freed place."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("候补中")
        PROMOTED = "promoted", _("候补成功")
        CANCELLED = "cancelled", _("已取消")
        CLOSED = "closed", _("已结束")

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("出诊排班"), on_delete=models.CASCADE, related_name="waitlist"
    )
    patient = models.ForeignKey(
        Patient, verbose_name=_("就诊人"), on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    person_key = models.CharField(_("身份摘要"), max_length=64, editable=False)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.WAITING)
    appointment = models.OneToOneField(
        Appointment,
        verbose_name=_("预约订单"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="waitlist_entry",
    )
    created_at = models.DateTimeField(_("加入时间"), auto_now_add=True)
    promoted_at = models.DateTimeField(_("候补成功时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("候补")
        verbose_name_plural = _("候补")
        ordering = ["schedule_id", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "person_key"],
                condition=Q(status="waiting"),
                name="booking_waitlist_one_waiting_per_person_schedule",
            ),
        ]

    def __str__(self):
        return f"{self.patient} ⏳ {self.schedule}"


class Penalty(models.Model):
    """A no-show or late cancellation, recorded against the real person (by ID hash)."""

    class Kind(models.TextChoices):
        NO_SHOW = "no_show", _("爽约")
        LATE_CANCEL = "late_cancel", _("临近就诊退号")

    person_key = models.CharField(_("身份摘要"), max_length=64, db_index=True)
    patient = models.ForeignKey(Patient, verbose_name=_("就诊人"), on_delete=models.PROTECT, related_name="penalties")
    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="+")
    appointment = models.ForeignKey(
        Appointment, verbose_name=_("预约订单"), on_delete=models.PROTECT, related_name="penalties"
    )
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("发生时间"))
    waived_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤销人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    waive_reason = models.CharField(_("撤销原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("失信记录")
        verbose_name_plural = _("失信记录")
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind"], name="booking_penalty_once_per_appointment"),
        ]

    def __str__(self):
        return f"{self.patient} {self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class BookingBan(models.Model):
    """A period in which a person may not book at a hospital, after crossing the no-show threshold."""

    person_key = models.CharField(_("身份摘要"), max_length=64, db_index=True)
    patient = models.ForeignKey(Patient, verbose_name=_("就诊人"), on_delete=models.PROTECT, related_name="bans")
    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    reason = models.CharField(_("原因"), max_length=200)
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("解除人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    lift_reason = models.CharField(_("解除原因"), max_length=200, blank=True)
    rules_snapshot = models.JSONField(
        _("限制依据的规则"),
        default=dict,
        editable=False,
        help_text=_("发出限制时所依据的爽约规则；撤销失信记录后按同一规则判断是否解除。"),
    )

    class Meta:
        verbose_name = _("预约限制")
        verbose_name_plural = _("预约限制")
        ordering = ["-starts_at"]

    def __str__(self):
        return f"{self.patient} {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"


class DrawRecord(models.Model):
    """What a lottery or priority draw started from, written in the draw's own transaction.

    `verify_draw` recomputes the whole draw from this record and compares it with the requests,
    the appointments and the schedule as stored: the entries as they were at the close (with the
    attributes their priority scores come from, and whether each was eligible at that moment),
    the seed, and the places each channel had to give.
    """

    schedule = models.OneToOneField(
        Schedule, verbose_name=_("出诊排班"), on_delete=models.CASCADE, related_name="draw_record"
    )
    policy = models.CharField(_("分配方式"), max_length=10)
    seed = models.BigIntegerField(_("抽签种子"))
    drawn_at = models.DateTimeField(_("抽签时间"))
    places = models.JSONField(_("抽签时各渠道号源数"), default=dict)
    places_left = models.JSONField(_("抽签后各渠道剩余号源数"), default=dict)
    entries = models.JSONField(_("截止时的申请"), default=list)

    class Meta:
        verbose_name = _("抽签记录")
        verbose_name_plural = _("抽签记录")

    def __str__(self):
        return f"{self.schedule} #{self.seed}"


class VisitReminder(models.Model):
    """One reminder SMS of an appointment (the evening before, or 2 hours before its segment).

    The row is the claim that makes a reminder go exactly once: (appointment, kind) is unique and
    is written in the same transaction as the SMS log. The reminder's signed link acts on this
    row's appointment only; a tap on "我会按时就诊" is recorded here.
    """

    class Kind(models.TextChoices):
        DAY_BEFORE = "day_before", _("就诊前一日提醒")
        SOON = "soon", _("就诊前2小时提醒")

    appointment = models.ForeignKey(
        Appointment, verbose_name=_("预约订单"), on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(_("提醒类型"), max_length=12, choices=Kind.choices)
    sent_at = models.DateTimeField(_("发送时间"))
    attendance_confirmed_at = models.DateTimeField(_("确认按时就诊时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("就诊提醒")
        verbose_name_plural = _("就诊提醒")
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind"], name="booking_visitreminder_once_per_kind")
        ]

    def __str__(self):
        return f"{self.appointment} {self.get_kind_display()}"
