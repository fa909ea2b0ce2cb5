from django.contrib import admin

from hospital.admin_scope import HospitalScopedAdmin
from scheduling.models import Schedule, ScheduleTemplate, Slot, SlotAdjustment


@admin.register(ScheduleTemplate)
class ScheduleTemplateAdmin(HospitalScopedAdmin):
    hospital_path = "doctor__hospital"
    list_display = ["doctor", "department", "weekday", "period", "start_time", "end_time", "segment_minutes",
                    "places_per_segment", "allocation_policy", "is_active"]  # fmt: skip
    list_filter = ["doctor__hospital", "weekday", "period", "allocation_policy", "is_active"]
    search_fields = ["doctor__name", "department__name"]
    list_select_related = ["doctor", "department"]


class SlotInline(admin.TabularInline):
    model = Slot
    extra = 0
    can_delete = False
    fields = ["start_at", "end_at", "capacity", "booked", "online_capacity", "online_booked", "partner_capacity",
              "partner_booked", "window_capacity", "window_booked", "clinic_capacity", "clinic_booked"]  # fmt: skip
    readonly_fields = fields


@admin.register(Schedule)
class ScheduleAdmin(HospitalScopedAdmin):
    hospital_path = "doctor__hospital"
    list_display = ["doctor", "department", "date", "period", "allocation_policy", "status", "release_at"]
    list_filter = ["doctor__hospital", "status", "period", "allocation_policy", "date"]
    search_fields = ["doctor__name", "department__name"]
    date_hierarchy = "date"
    list_select_related = ["doctor", "department"]
    readonly_fields = ["last_queue_number", "draw_seed", "drawn_at", "suspended_at", "suspended_by"]
    inlines = [SlotInline]


@admin.register(Slot)
class SlotAdmin(HospitalScopedAdmin):
    hospital_path = "schedule__doctor__hospital"
    list_display = ["__str__", "capacity", "booked", "online_capacity", "online_booked", "window_capacity",
                    "window_booked"]  # fmt: skip
    list_filter = ["schedule__doctor__hospital", "schedule__date"]
    search_fields = ["schedule__doctor__name"]
    list_select_related = ["schedule__doctor"]
    readonly_fields = [f.name for f in Slot._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SlotAdjustment)
class SlotAdjustmentAdmin(HospitalScopedAdmin):
    hospital_path = "slot__schedule__doctor__hospital"
    list_display = ["slot", "channel", "places", "reason", "created_by", "created_at"]
    list_filter = ["channel", "slot__schedule__doctor__hospital"]
    search_fields = ["reason", "slot__schedule__doctor__name"]
    readonly_fields = ["slot", "channel", "places", "reason", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False
