from django.contrib import admin

from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from hospital.admin_scope import HospitalScopedAdmin


@admin.register(Appointment)
class AppointmentAdmin(HospitalScopedAdmin):
    list_display = ["order_no", "patient", "doctor", "visit_date", "queue_number", "channel", "status", "fee_fen",
                    "created_at"]  # fmt: skip
    list_filter = ["hospital", "status", "channel", "visit_date"]
    search_fields = ["order_no", "patient__name", "doctor__name"]
    date_hierarchy = "visit_date"
    list_select_related = ["patient", "doctor"]
    readonly_fields = [f.name for f in Appointment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BookingRequest)
class BookingRequestAdmin(HospitalScopedAdmin):
    hospital_path = "schedule__doctor__hospital"
    list_display = ["patient", "schedule", "urgency", "score", "draw_rank", "status", "created_at"]
    list_filter = ["status", "urgency", "schedule__doctor__hospital"]
    search_fields = ["patient__name", "schedule__doctor__name"]
    readonly_fields = [f.name for f in BookingRequest._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(HospitalScopedAdmin):
    hospital_path = "schedule__doctor__hospital"
    list_display = ["patient", "schedule", "status", "created_at", "promoted_at"]
    list_filter = ["status", "schedule__doctor__hospital"]
    search_fields = ["patient__name", "schedule__doctor__name"]
    readonly_fields = [f.name for f in WaitlistEntry._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Penalty)
class PenaltyAdmin(HospitalScopedAdmin):
    list_display = ["patient", "hospital", "kind", "occurred_at", "waived_at", "waive_reason"]
    list_filter = ["hospital", "kind", "waived_at"]
    search_fields = ["patient__name", "appointment__order_no"]
    readonly_fields = [f.name for f in Penalty._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(BookingBan)
class BookingBanAdmin(HospitalScopedAdmin):
    list_display = ["patient", "hospital", "starts_at", "ends_at", "lifted_at"]
    list_filter = ["hospital", "lifted_at"]
    search_fields = ["patient__name", "reason"]
    readonly_fields = [f.name for f in BookingBan._meta.fields]

    def has_add_permission(self, request):
        return False
