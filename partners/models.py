from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from accounts.models import Partner
from hospital.models import Hospital


class PartnerAPIKeyManager(BaseAPIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().filter(partner__is_active=True).select_related("partner__user")


class PartnerAPIKey(AbstractAPIKey):
    """A partner platform's API key; only its hash is stored (djangorestframework-api-key)."""

    partner = models.ForeignKey(Partner, verbose_name=_("合作平台"), on_delete=models.CASCADE, related_name="api_keys")

    objects = PartnerAPIKeyManager()

    # A key belongs to no hospital: only superusers manage keys (hospital.admin_scope).
    hospital_lookup = None

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("平台 API 密钥")
        verbose_name_plural = _("平台 API 密钥")


class HospitalGrant(models.Model):
    """A hospital allows a partner platform to read its 号源 and book in its partner channel."""

    partner = models.ForeignKey(Partner, verbose_name=_("合作平台"), on_delete=models.CASCADE, related_name="grants")
    hospital = models.ForeignKey(
        Hospital, verbose_name=_("医院"), on_delete=models.CASCADE, related_name="partner_grants"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("授权人"), on_delete=models.PROTECT, related_name="+", editable=False
    )
    granted_at = models.DateTimeField(_("授权时间"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤销人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("平台授权")
        verbose_name_plural = _("平台授权")
        ordering = ["hospital_id", "partner_id", "-granted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "hospital"],
                condition=Q(revoked_at__isnull=True),
                name="partners_grant_one_active_per_partner_hospital",
                violation_error_message=_("该平台已获本院授权。"),
            ),
        ]

    def __str__(self):
        return f"{self.partner} → {self.hospital}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PartnerWebhook(models.Model):
    """Where a partner wants its appointments' status changes, and the secret that signs them."""

    partner = models.OneToOneField(
        Partner, verbose_name=_("合作平台"), on_delete=models.CASCADE, related_name="webhook"
    )
    url = models.URLField(_("回调地址"), max_length=500)
    secret = models.CharField(_("签名密钥"), max_length=128)
    is_active = models.BooleanField(_("启用"), default=True)

    hospital_lookup = None

    class Meta:
        verbose_name = _("平台回调")
        verbose_name_plural = _("平台回调")

    def __str__(self):
        return f"{self.partner}: {self.url}"


class WebhookDelivery(models.Model):
    """One status change of one appointment, to be delivered to the partner (an outbox row)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("发送失败")

    partner = models.ForeignKey(
        Partner, verbose_name=_("合作平台"), on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    event_id = models.UUIDField(_("事件编号"), unique=True)
    event = models.CharField(_("事件"), max_length=40)
    order_no = models.CharField(_("订单号"), max_length=32, db_index=True)
    payload = models.JSONField(_("内容"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    last_status_code = models.PositiveIntegerField(_("最近响应码"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    # Deliveries go to the platform, not to a hospital: superusers only (hospital.admin_scope).
    hospital_lookup = None

    class Meta:
        verbose_name = _("回调发送记录")
        verbose_name_plural = _("回调发送记录")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="partners_delivery_due")]

    def __str__(self):
        return f"{self.event} {self.order_no}"
