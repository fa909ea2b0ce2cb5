import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import Department, Doctor

MAX_SEGMENT = datetime.timedelta(minutes=30)


# The release moments (放号), in one place: when a day's places open, and when each reserve
# channel's unused places go back to the online pool. A slot stamps the flag named here when its
# reserve is released; until then the channel keeps its share.
RESERVE_RELEASE_FLAGS = {
    "reserves_released_at": (Channel.WINDOW, Channel.CLINIC),
    "partner_released_at": (Channel.PARTNER,),
}


def local_datetime(day: datetime.date, at: datetime.time) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, at))


def release_moments(*, rules, visit_date: datetime.date) -> dict[str, datetime.datetime]:
    """For a visit date under `rules` (hospital.models.BookingRules): `release_at`, when its places
    open (`days_ahead` days before, at the release time), and for each flag of
    `RESERVE_RELEASE_FLAGS` the moment that channel group's unused reserve goes online."""
    return {
        "release_at": local_datetime(visit_date - datetime.timedelta(days=rules.days_ahead), rules.release_time),
        "reserves_released_at": local_datetime(
            visit_date - datetime.timedelta(days=rules.reserve_release_days_before), rules.reserve_release_time
        ),
        "partner_released_at": local_datetime(
            visit_date - datetime.timedelta(days=rules.partner_cutoff_days_before), rules.partner_cutoff_time
        ),
    }


def latest_released_day(*, rules, now: datetime.datetime) -> datetime.date:
    """The last visit day whose release moment (`days_ahead` days before, at the release time) has passed."""
    local = timezone.localtime(now)
    ahead = rules.days_ahead if local.time() >= rules.release_time else rules.days_ahead - 1
    return local.date() + datetime.timedelta(days=ahead)


class Period(models.TextChoices):
    MORNING = "morning", _("上午")
    AFTERNOON = "afternoon", _("下午")
    EVENING = "evening", _("晚上")


PERIOD_HOURS = {
    Period.MORNING: (datetime.time(8, 0), datetime.time(12, 0)),
    Period.AFTERNOON: (datetime.time(13, 30), datetime.time(17, 30)),
    Period.EVENING: (datetime.time(18, 0), datetime.time(21, 0)),
}


class AllocationPolicy(models.TextChoices):
    FCFS = "fcfs", _("先到先得")
    LOTTERY = "lottery", _("抽签")
    PRIORITY = "priority", _("优先级分配")


class ScheduleTemplate(models.Model):
    """A doctor's weekly session (e.g. every Monday morning), from which schedules are generated."""

    doctor = models.ForeignKey(Doctor, verbose_name=_("医生"), on_delete=models.CASCADE, related_name="templates")
    department = models.ForeignKey(Department, verbose_name=_("出诊科室"), on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(
        _("星期"),
        choices=[
            (0, _("周一")),
            (1, _("周二")),
            (2, _("周三")),
            (3, _("周四")),
            (4, _("周五")),
            (5, _("周六")),
            (6, _("周日")),
        ],
    )
    period = models.CharField(_("时段"), max_length=10, choices=Period.choices)
    start_time = models.TimeField(_("开始时间"))
    end_time = models.TimeField(_("结束时间"))
    segment_minutes = models.PositiveSmallIntegerField(_("每段时长（分钟）"), default=30)
    places_per_segment = models.PositiveSmallIntegerField(_("每段号源数"), default=5)
    allocation_policy = models.CharField(
        _("分配方式"), max_length=10, choices=AllocationPolicy.choices, default=AllocationPolicy.FCFS
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("排班模板")
        verbose_name_plural = _("排班模板")
        ordering = ["doctor_id", "weekday", "start_time"]
        constraints = [
            models.UniqueConstraint(fields=["doctor", "weekday", "period"], name="scheduling_template_unique_session"),
            models.CheckConstraint(
                condition=Q(segment_minutes__gte=5, segment_minutes__lte=30), name="scheduling_template_segment_length"
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="scheduling_template_end_after_start"
            ),
        ]

    def __str__(self):
        return f"{self.doctor.name} {self.get_weekday_display()}{self.get_period_display()}"

    def clean(self):
        super().clean()
        if self.department_id and self.doctor_id and self.department.hospital_id != self.doctor.hospital_id:
            raise ValidationError({"department": _("科室必须与医生属于同一家医院。")})


class Schedule(models.Model):
    """One doctor's session on one date (出诊), split into slots."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")
        SUSPENDED = "suspended", _("停诊")

    doctor = models.ForeignKey(Doctor, verbose_name=_("医生"), on_delete=models.PROTECT, related_name="schedules")
    department = models.ForeignKey(
        Department, verbose_name=_("出诊科室"), on_delete=models.PROTECT, related_name="schedules"
    )
    template = models.ForeignKey(
        ScheduleTemplate, verbose_name=_("来源模板"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    date = models.DateField(_("出诊日期"))
    period = models.CharField(_("时段"), max_length=10, choices=Period.choices)
    start_at = models.DateTimeField(_("开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    fee_fen = models.PositiveIntegerField(_("挂号费（分）"))
    allocation_policy = models.CharField(
        _("分配方式"), max_length=10, choices=AllocationPolicy.choices, default=AllocationPolicy.FCFS
    )
    release_at = models.DateTimeField(_("放号时间"))
    request_closes_at = models.DateTimeField(_("报名截止时间"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    last_queue_number = models.PositiveIntegerField(
        _("已发最大就诊序号"),
        default=0,
        editable=False,
        help_text=_("常规号源的序号按时段预留；加号的序号从这里往后发。"),
    )
    draw_seed = models.BigIntegerField(_("抽签种子"), null=True, blank=True, editable=False)
    drawn_at = models.DateTimeField(_("抽签时间"), null=True, blank=True, editable=False)
    suspended_at = models.DateTimeField(_("停诊时间"), null=True, blank=True, editable=False)
    suspended_reason = models.CharField(_("停诊原因"), max_length=200, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("停诊操作人"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # Also stamped by a database trigger on every UPDATE (scheduling migration 0003), so counter
    # updates made with F() expressions, which skip auto_now, move it too. The FHIR feed's
    # `_since` reads it.
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("出诊排班")
        verbose_name_plural = _("出诊排班")
        ordering = ["date", "start_at", "doctor_id"]
        constraints = [
            models.UniqueConstraint(fields=["doctor", "date", "period"], name="scheduling_schedule_unique_session"),
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="scheduling_schedule_end_after_start"),
        ]
        indexes = [models.Index(fields=["date", "status"], name="scheduling_schedule_day_status")]

    def __str__(self):
        return f"{self.doctor.name} {self.date:%Y-%m-%d} {self.get_period_display()}"

    @property
    def hospital_id(self):
        return self.doctor.hospital_id

    @property
    def uses_requests(self) -> bool:
        """Lottery and priority sessions collect requests instead of booking at once."""
        return self.allocation_policy != AllocationPolicy.FCFS


def _channel_fields(channel: str) -> tuple[str, str]:
    return f"{channel}_capacity", f"{channel}_booked"


class Slot(models.Model):
    """A time segment (at most 30 minutes) of a session, with its places split by channel.

    Queue numbers (就诊序号) follow time order: the slot's regular places own the numbers
    `first_number … first_number + regular_places - 1`; places added later (加号) take
    numbers after the session's last regular number.

    The database itself guarantees every counter's bounds, that the channel capacities add
    up to `capacity` and the channel bookings to `booked`: booking is a conditional UPDATE
    on this row, and these constraints are the last line of defence if a caller ever
    bypasses it.
    """

    schedule = models.ForeignKey(Schedule, verbose_name=_("出诊排班"), on_delete=models.CASCADE, related_name="slots")
    start_at = models.DateTimeField(_("开始时间"))
    end_at = models.DateTimeField(_("结束时间"))
    capacity = models.PositiveIntegerField(_("号源总数"))
    booked = models.PositiveIntegerField(_("已约"), default=0)
    online_capacity = models.PositiveIntegerField(_("线上号源"), default=0)
    online_booked = models.PositiveIntegerField(_("线上已约"), default=0)
    partner_capacity = models.PositiveIntegerField(_("平台号源"), default=0)
    partner_booked = models.PositiveIntegerField(_("平台已约"), default=0)
    window_capacity = models.PositiveIntegerField(_("窗口号源"), default=0)
    window_booked = models.PositiveIntegerField(_("窗口已约"), default=0)
    clinic_capacity = models.PositiveIntegerField(_("诊间号源"), default=0)
    clinic_booked = models.PositiveIntegerField(_("诊间已约"), default=0)
    is_open = models.BooleanField(_("开放预约"), default=True, editable=False)
    first_number = models.PositiveIntegerField(_("起始就诊序号"), default=1, editable=False)
    regular_places = models.PositiveIntegerField(_("常规号源数"), default=0, editable=False)
    partner_released_at = models.DateTimeField(_("平台余号转线上时间"), null=True, blank=True, editable=False)
    reserves_released_at = models.DateTimeField(_("窗口/诊间余号转线上时间"), null=True, blank=True, editable=False)
    # Stamped by a database trigger on every UPDATE too (see Schedule.updated_at).
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("号源时段")
        verbose_name_plural = _("号源时段")
        ordering = ["schedule_id", "start_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(booked__gte=0) & Q(booked__lte=F("capacity")), name="scheduling_slot_booked_within_capacity"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{channel}_booked__gte": 0})
                    & Q(**{f"{channel}_booked__lte": F(f"{channel}_capacity")}),
                    name=f"scheduling_slot_{channel}_within_share",
                )
                for channel in CHANNEL_ORDER
            ],
            models.CheckConstraint(
                condition=Q(
                    capacity=F("online_capacity") + F("partner_capacity") + F("window_capacity") + F("clinic_capacity")
                ),
                name="scheduling_slot_shares_add_to_capacity",
            ),
            models.CheckConstraint(
                condition=Q(booked=F("online_booked") + F("partner_booked") + F("window_booked") + F("clinic_booked")),
                name="scheduling_slot_channel_bookings_add_up",
            ),
            models.CheckConstraint(
                condition=Q(end_at__gt=F("start_at")) & Q(end_at__lte=F("start_at") + MAX_SEGMENT),
                name="scheduling_slot_segment_at_most_30_minutes",
            ),
        ]

    def __str__(self):
        start, end = timezone.localtime(self.start_at), timezone.localtime(self.end_at)
        return f"{self.schedule} {start:%H:%M}-{end:%H:%M}"

    def capacity_of(self, channel: str) -> int:
        return getattr(self, _channel_fields(channel)[0])

    def booked_of(self, channel: str) -> int:
        return getattr(self, _channel_fields(channel)[1])

    def free_of(self, channel: str) -> int:
        return self.capacity_of(channel) - self.booked_of(channel)

    @property
    def online_free(self) -> int:
        return self.free_of(Channel.ONLINE)

    @property
    def free(self) -> int:
        return self.capacity - self.booked

    def channel_released(self, channel: str) -> bool:
        """Whether the channel's unused reserve has already gone back to the online pool."""
        return any(
            channel in channels and getattr(self, flag) is not None for flag, channels in RESERVE_RELEASE_FLAGS.items()
        )


class SlotAdjustment(models.Model):
    """加号 and other manual changes to a slot's places, kept for the record."""

    slot = models.ForeignKey(Slot, verbose_name=_("号源时段"), on_delete=models.CASCADE, related_name="adjustments")
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    places = models.IntegerField(_("增加号源数"))
    reason = models.CharField(_("原因"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("加号记录")
        verbose_name_plural = _("加号记录")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.slot} +{self.places}（{self.get_channel_display()}）"


class Release(models.Model):
    """放号 record: a hospital's visit day came inside the booking window, generated and published.

    The row is the claim: (hospital, day) is unique, so a second run of `release_day` for the same
    day (two beats, a redelivered task, the catch-up sweep) finds it and does nothing.
    """

    hospital = models.ForeignKey(
        "hospital.Hospital", verbose_name=_("医院"), on_delete=models.CASCADE, related_name="releases"
    )
    day = models.DateField(_("放号日期（就诊日）"))
    places = models.PositiveIntegerField(_("号源数"), default=0)
    due_at = models.DateTimeField(_("应放号时间"))
    moment = models.DateTimeField(_("实际放号时间"))

    LATE_AFTER = datetime.timedelta(minutes=10)

    class Meta:
        verbose_name = _("放号记录")
        verbose_name_plural = _("放号记录")
        ordering = ["-day", "hospital_id"]
        constraints = [models.UniqueConstraint(fields=["hospital", "day"], name="scheduling_release_once_per_day")]

    def __str__(self):
        return f"{self.hospital} {self.day:%Y-%m-%d}"

    @property
    def is_late(self) -> bool:
        return self.moment - self.due_at > self.LATE_AFTER
