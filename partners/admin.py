from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin

from accounts.models import Partner
from config.errors import DomainError
from hospital import audit
from hospital.admin_scope import HospitalScopedAdmin
from hospital.models import AuditRecord, HospitalStaff
from hospital.roles import staff_role
from partners import services
from partners.models import HospitalGrant, PartnerAPIKey, PartnerWebhook, WebhookDelivery


@admin.register(PartnerAPIKey)
class PartnerAPIKeyAdmin(APIKeyModelAdmin):
    """Superusers only (a key belongs to no hospital). The key is shown once, when it is created."""

    list_display = ["prefix", "name", "partner", "created", "expiry_date", "_has_expired", "revoked"]
    list_filter = ["revoked", "partner"]
    search_fields = ["name", "prefix", "partner__name", "partner__code"]
    raw_id_fields = ["partner"]

    def save_model(self, request, obj, form=None, change=False):
        if obj.pk:
            obj.save()
            return
        key = PartnerAPIKey.objects.assign_key(obj)
        obj.save()
        self.message_user(
            request,
            _("“%(name)s”的 API 密钥为：%(key)s 。请立即妥善保存：此后不会再显示。") % {"name": obj.name, "key": key},
            messages.WARNING,
        )


@admin.register(PartnerWebhook)
class PartnerWebhookAdmin(admin.ModelAdmin):
    list_display = ["partner", "url", "is_active"]
    list_filter = ["is_active"]
    raw_id_fields = ["partner"]


class GrantForm(forms.ModelForm):
    """Partners belong to no hospital, so they are offered as a plain list of active platforms."""

    partner = forms.TypedChoiceField(label=_("合作平台"), coerce=int, choices=())

    class Meta:
        model = HospitalGrant
        fields = ["partner", "hospital"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].choices = list(Partner.objects.filter(is_active=True).values_list("pk", "name"))

    def clean_partner(self):
        return Partner.objects.get(pk=self.cleaned_data["partner"], is_active=True)


@admin.register(HospitalGrant)
class HospitalGrantAdmin(HospitalScopedAdmin):
    """A hospital's admins grant and revoke partner platforms for their own hospital only."""

    form = GrantForm
    list_display = ["partner", "hospital", "granted_by", "granted_at", "revoked_at"]
    list_filter = ["hospital", ("revoked_at", admin.EmptyFieldListFilter)]
    actions = ["revoke"]

    def may_manage(self, request, hospital_id=None) -> bool:
        if request.user.is_superuser:
            return True
        staff = getattr(request.user, "hospital_staff", None)
        return staff is not None and staff_role(user=request.user, hospital_id=staff.hospital_id) == (
            HospitalStaff.Role.HOSPITAL_ADMIN
        )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self.may_manage(request)

    def has_change_permission(self, request, obj=None):
        return False  # a grant is never edited: revoke it and grant again

    def has_delete_permission(self, request, obj=None):
        return False  # kept as the record of who allowed whom, and when

    def get_readonly_fields(self, request, obj=None):
        return ["partner", "hospital", "granted_by", "granted_at", "revoked_at", "revoked_by"] if obj else []

    def save_model(self, request, obj, form, change):
        with transaction.atomic():  # the grant and its audit record commit together
            grant = services.grant_hospital(partner=obj.partner, hospital=obj.hospital, by=request.user)
            audit.record(
                hospital_id=grant.hospital_id,
                actor=request.user,
                action=AuditRecord.Action.GRANT_CHANGED,
                target=grant,
                changes={"granted": [None, str(grant.partner)]},
            )
        obj.pk, obj.granted_by, obj.granted_at = grant.pk, grant.granted_by, grant.granted_at

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.may_manage(request):
            actions.pop("revoke", None)
        return actions

    @admin.action(description=_("撤销所选授权"))
    def revoke(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return
        revoked = 0
        for grant in queryset.filter(revoked_at__isnull=True):
            try:
                with transaction.atomic():
                    done = services.revoke_grant(grant=grant, by=request.user)
                    if done:
                        audit.record(
                            hospital_id=grant.hospital_id,
                            actor=request.user,
                            action=AuditRecord.Action.GRANT_CHANGED,
                            target=grant,
                            changes={"revoked": [str(grant.partner), None]},
                        )
                revoked += done
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return
        self.message_user(request, _("已撤销%(count)d项授权。") % {"count": revoked}, messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event",
        "order_no",
        "partner",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event", "partner"]
    search_fields = ["order_no", "event_id"]
    readonly_fields = [
        "partner",
        "event_id",
        "event",
        "order_no",
        "payload",
        "status",
        "attempts",
        "last_error",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("重新发送所选回调"))
    def resend(self, request, queryset):
        for delivery in queryset:
            services.resend_delivery(delivery=delivery)
        self.message_user(request, _("已重新排队发送%(count)d条回调。") % {"count": len(queryset)}, messages.SUCCESS)
