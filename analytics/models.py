from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from scheduling.models import Schedule


class AttemptMinute(models.Model):
    """Online booking attempts on one schedule in one wall-clock minute, and how many got a place.

    Filled by the drain job from the cache counters of booking.attempts (no row is written per
    attempt); the release minute's row is what the FCFS success share (抢号成功率) reads.
    """

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("出诊排班"), on_delete=models.CASCADE, related_name="attempt_minutes"
    )
    minute = models.DateTimeField(_("分钟"))
    attempts = models.PositiveIntegerField(_("预约尝试次数"), default=0)
    won = models.PositiveIntegerField(_("成功次数"), default=0)

    class Meta:
        verbose_name = _("抢号统计")
        verbose_name_plural = _("抢号统计")
        ordering = ["schedule_id", "minute"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "minute"], name="analytics_attemptminute_one_per_minute"),
            models.CheckConstraint(condition=Q(won__lte=F("attempts")), name="analytics_attemptminute_won_within"),
        ]

    def __str__(self):
        return f"{self.schedule} {self.minute:%H:%M} {self.won}/{self.attempts}"
