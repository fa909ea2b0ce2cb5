from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts import pii
from notifications.templates_sms import SMS_TEMPLATES


class NotificationLog(models.Model):
    """One SMS: what was asked for, and what the provider did with it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    phone = pii.EncryptedCharField(_("手机号"))
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, db_index=True, editable=False)
    template = models.CharField(
        _("短信模板"), max_length=40, choices=[(code, code) for code in SMS_TEMPLATES], db_index=True
    )
    params = models.JSONField(_("模板参数"), default=dict)
    text = models.TextField(_("短信内容"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(_("短信服务商"), max_length=20, blank=True)
    provider_message_id = models.CharField(_("服务商消息编号"), max_length=100, blank=True)
    error = models.TextField(_("错误信息"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("发送次数"), default=0)
    dedupe_key = models.CharField(_("去重键"), max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("短信记录")
        verbose_name_plural = _("短信记录")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="notifications_log_status_idx")]

    def __str__(self):
        return f"{self.template} → {self.masked_phone} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        self.phone_hash = pii.phone_hash(self.phone)
        super().save(*args, **kwargs)

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)


class EndReason(models.TextChoices):
    BOOKED = "booked", _("已预约")
    CANCELLED = "cancelled", _("已取消提醒")


class Subscription(models.Model):
    """到号提醒: an account asks to be told about a topic (e.g. "doctor:12", "schedule:34").

    Notifications knows nothing of what a topic means: the app that owns the thing (booking)
    names the topic, tells this app when something happened (`notify_topic`) and when the
    subscriber no longer needs it (`end_subscriptions`).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="subscriptions"
    )
    topic = models.CharField(_("主题"), max_length=64)
    label = models.CharField(_("提醒内容"), max_length=120)
    link = models.CharField(_("页面地址"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("订阅时间"), auto_now_add=True)
    notified_at = models.DateTimeField(_("最近通知时间"), null=True, blank=True)
    notice = models.CharField(_("最近通知内容"), max_length=300, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        verbose_name = _("到号提醒")
        verbose_name_plural = _("到号提醒")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "topic"],
                condition=models.Q(ended_at__isnull=True),
                name="notifications_subscription_one_active_per_topic",
            ),
        ]
        indexes = [models.Index(fields=["topic", "ended_at"], name="notifications_sub_topic_idx")]

    def __str__(self):
        return f"{self.label} ({self.topic})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
