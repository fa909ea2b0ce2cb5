from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from config.forms import YuanField, YuanFieldsMixin
from config.readonly_admin import ReadOnlyAdminMixin
from hospital import audit
from hospital.admin_scope import HospitalScopedAdmin
from hospital.models import AuditRecord, BookingRules, Department, Doctor, Hospital, HospitalStaff, TriageKeyword
from hospital.roles import assign_staff_role, change_staff_role


@admin.register(Hospital)
class HospitalAdmin(HospitalScopedAdmin):
    list_display = ["name", "code", "level", "phone", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "code", "address"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Department)
class DepartmentAdmin(HospitalScopedAdmin):
    list_display = ["name", "parent", "hospital", "kind", "sort_order", "is_active"]
    list_filter = ["hospital", "kind", "is_active"]
    search_fields = ["name", "parent__name"]
    list_select_related = ["parent", "hospital"]


class DoctorForm(YuanFieldsMixin, forms.ModelForm):
    """The fee is typed in yuan (20.00) and stored in fen."""

    registration_fee = YuanField(label=_("挂号费（元）"), initial="0.00")
    yuan_fields = {"registration_fee": "registration_fee_fen"}

    class Meta:
        model = Doctor
        fields = ["hospital", "departments", "name", "title", "specialty", "intro", "is_active"]


@admin.register(Doctor)
class DoctorAdmin(HospitalScopedAdmin):
    list_display = ["name", "title", "hospital", "fee_yuan", "is_active"]
    list_filter = ["hospital", "title", "is_active", "departments"]
    search_fields = ["name", "specialty"]
    filter_horizontal = ["departments"]
    list_select_related = ["hospital"]
    form = DoctorForm

    @admin.display(description=_("挂号费（元）"), ordering="registration_fee_fen")
    def fee_yuan(self, doctor):
        return doctor.registration_fee_yuan


@admin.register(BookingRules)
class BookingRulesAdmin(HospitalScopedAdmin):
    list_display = ["__str__", "version", "days_ahead", "release_time", "payment_timeout_minutes", "updated_at"]
    list_filter = ["hospital"]
    search_fields = ["hospital__name", "department__name", "doctor__name"]
    readonly_fields = ["version", "updated_at"]
    fieldsets = [
        (None, {"fields": ["hospital", "department", "doctor", "version", "updated_at"]}),
        ("放号与预约", {"fields": ["days_ahead", "release_time", "same_day_booking", "close_minutes_before_start",
                                   "day_before_cutoff_time", "lottery_window_hours"]}),
        ("退号与支付", {"fields": ["cancel_deadline_minutes", "late_cancel_hours", "payment_timeout_minutes",
                                   "pay_at_desk", "real_name_required"]}),
        ("限约", {"fields": ["max_per_department_per_day", "max_per_hospital_per_day", "max_active", "max_per_month"]}),
        ("爽约处理", {"fields": ["no_show_threshold", "no_show_window_days", "ban_days", "late_cancel_counts"]}),
        ("候补", {"fields": ["waitlist_enabled", "waitlist_payment_minutes", "waitlist_close_time"]}),
        ("就诊提醒", {"fields": ["reminder_time"]}),
        ("号源渠道", {"fields": ["online_share", "partner_share", "window_share", "clinic_share",
                                 "reserve_release_days_before", "reserve_release_time",
                                 "partner_cutoff_days_before", "partner_cutoff_time"]}),
    ]  # fmt: skip

    def save_model(self, request, obj, form, change):
        """Every change to the rules is audited with the fields it changed, in the save's transaction."""
        with transaction.atomic():
            before = BookingRules.objects.filter(pk=obj.pk).first() if change else None
            obj.save()
            fields = [f.name for f in BookingRules._meta.concrete_fields if f.name not in ("id", "updated_at")]
            changes = audit.field_changes(before, obj, fields) if before else {"created": [None, obj.version]}
            audit.record(
                hospital_id=obj.hospital_id,
                actor=request.user,
                action=AuditRecord.Action.RULES_CHANGED,
                target=obj,
                changes=changes,
            )


@admin.register(HospitalStaff)
class HospitalStaffAdmin(HospitalScopedAdmin):
    list_display = ["user", "hospital", "role", "doctor", "created_at"]
    list_filter = ["hospital", "role"]
    search_fields = ["user__name", "hospital__name"]
    raw_id_fields = ["user"]
    list_select_related = ["user", "hospital", "doctor"]
    filter_horizontal = ["departments"]

    def get_readonly_fields(self, request, obj=None):
        """A staff row belongs to one account for good: re-pointing it would hand the role to someone else."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "user"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        """Role changes go through hospital.roles, which also moves the account between permission groups."""
        if not change:
            if not request.user.is_superuser:
                raise PermissionDenied
            with transaction.atomic():
                obj.save()
                assign_staff_role(user=obj.user, hospital=obj.hospital, role=obj.role, doctor=obj.doctor)
                audit.record(
                    hospital_id=obj.hospital_id,
                    actor=request.user,
                    action=AuditRecord.Action.STAFF_ROLE_CHANGED,
                    target=obj,
                    changes={"role": [None, obj.role]},
                )
            return
        try:
            change_staff_role(
                staff=obj,
                hospital=obj.hospital,
                role=obj.role,
                by=request.user,
                doctor=obj.doctor,
                departments=form.cleaned_data.get("departments"),
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            raise PermissionDenied(exc.detail) from exc


@admin.register(TriageKeyword)
class TriageKeywordAdmin(admin.ModelAdmin):
    """导诊 keywords: one platform-wide table, curated by superusers.

    It belongs to no hospital, so hospital staff never reach it (HospitalStaffBoundary), whatever
    permissions their account holds.
    """

    list_display = ["keyword", "department_kind", "weight", "min_age", "max_age", "is_active"]
    list_editable = ["weight", "is_active"]
    list_filter = ["department_kind", "is_active"]
    search_fields = ["keyword"]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdminMixin, HospitalScopedAdmin):
    """The audit trail: read-only for everyone, superusers included (no add, change or delete)."""

    list_display = ["created_at", "actor_name", "action", "target_repr", "reason", "hospital"]
    list_filter = ["hospital", "action"]
    search_fields = ["target_repr", "target_id", "actor_name", "reason"]
    list_select_related = ["hospital"]
    readonly_fields = [f.name for f in AuditRecord._meta.fields]
    date_hierarchy = "created_at"
