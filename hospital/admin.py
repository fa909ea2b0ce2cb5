from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from config.errors import DomainError
from hospital.admin_scope import HospitalScopedAdmin
from hospital.models import BookingRules, Department, Doctor, Hospital, HospitalStaff, TriageKeyword
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


@admin.register(Doctor)
class DoctorAdmin(HospitalScopedAdmin):
    list_display = ["name", "title", "hospital", "registration_fee_fen", "is_active"]
    list_filter = ["hospital", "title", "is_active", "departments"]
    search_fields = ["name", "specialty"]
    filter_horizontal = ["departments"]
    list_select_related = ["hospital"]


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


@admin.register(HospitalStaff)
class HospitalStaffAdmin(HospitalScopedAdmin):
    list_display = ["user", "hospital", "role", "created_at"]
    list_filter = ["hospital", "role"]
    search_fields = ["user__name", "hospital__name"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        """A staff row belongs to one account for good: re-pointing it would hand the role to someone else."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "user"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        """Role changes go through hospital.roles, which also moves the account between permission groups."""
        if not change:
            if not request.user.is_superuser:
                raise PermissionDenied
            obj.save()
            assign_staff_role(user=obj.user, hospital=obj.hospital, role=obj.role)
            return
        try:
            change_staff_role(staff=obj, hospital=obj.hospital, role=obj.role, by=request.user)
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
