from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.money import fen_to_yuan
from hospital.channels import Channel
from hospital.models import Department, Hospital
from scheduling.models import Schedule


class DailyStatistics(models.Model):
    """One hospital × visit date × department × channel, counted by the clock (desk.tasks) so the
    dashboard reads a handful of rows instead of scanning appointments.

    Money is by visit date: `revenue_fen` is what was paid and kept, `refunds_fen` what was paid
    and is being or has been given back. The release figures (how fast the online places went,
    in seconds after the release moment) are on the `online` rows only.
    """

    hospital = models.ForeignKey(Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="+")
    date = models.DateField(_("就诊日期"))
    department = models.ForeignKey(Department, verbose_name=_("科室"), on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    capacity = models.PositiveIntegerField(_("号源"), default=0)
    booked = models.PositiveIntegerField(_("已约"), default=0)
    bookings = models.PositiveIntegerField(_("预约单数"), default=0)
    attended = models.PositiveIntegerField(_("已到诊"), default=0)
    no_shows = models.PositiveIntegerField(_("爽约"), default=0)
    cancelled = models.PositiveIntegerField(_("取消"), default=0)
    revenue_fen = models.PositiveIntegerField(_("收入（分）"), default=0)
    refunds_fen = models.PositiveIntegerField(_("退款（分）"), default=0)
    waitlist = models.PositiveIntegerField(_("候补人数"), default=0)
    half_gone_seconds = models.PositiveIntegerField(_("放号后过半用时（秒）"), null=True, blank=True)
    all_gone_seconds = models.PositiveIntegerField(_("放号后约满用时（秒）"), null=True, blank=True)
    computed_at = models.DateTimeField(_("统计时间"))

    class Meta:
        verbose_name = _("每日统计")
        verbose_name_plural = _("每日统计")
        ordering = ["-date", "department_id", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["hospital", "date", "department", "channel"], name="desk_dailystatistics_one_per_key"
            ),
        ]

    def __str__(self):
        return f"{self.date} {self.department} {self.get_channel_display()}"

    @property
    def revenue_yuan(self) -> str:
        return fen_to_yuan(self.revenue_fen)


class SuspensionRequest(models.Model):
    """A doctor asks for 停诊 of one of their sessions; a hospital_admin or the department's scheduler decides."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待确认")
        CONFIRMED = "confirmed", _("已停诊")
        REJECTED = "rejected", _("已驳回")

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("出诊"), on_delete=models.CASCADE, related_name="suspension_requests"
    )
    reason = models.CharField(_("停诊原因"), max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decision_note = models.CharField(_("处理说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("停诊申请")
        verbose_name_plural = _("停诊申请")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule"], condition=Q(status="pending"), name="desk_suspensionrequest_one_pending"
            ),
        ]

    def __str__(self):
        return f"{self.schedule} · {self.get_status_display()}"
