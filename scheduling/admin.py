"""Schedules and slots in the staff admin.

booking/admin.py extends ScheduleAdmin and SlotAdmin with the booking engine's staff actions
(停诊, 加号, 抽签): those call booking's services, and scheduling must not depend on booking.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from hospital.admin_scope import HospitalScopedAdmin, ScopedChoicesMixin, staff_hospital_id
from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import Hospital
from hospital.roles import works_at
from scheduling.models import Release, Schedule, ScheduleTemplate, Slot, SlotAdjustment
from scheduling.selectors import overdue_releases
from scheduling.services import generate_schedules, publish_schedule

NOT_OUR_HOSPITAL = gettext_lazy("只有本院工作人员可以进行此操作。")


@admin.register(ScheduleTemplate)
class ScheduleTemplateAdmin(HospitalScopedAdmin):
    list_display = ["doctor", "department", "weekday", "period", "start_time", "end_time", "segment_minutes",
                    "places_per_segment", "allocation_policy", "is_active"]  # fmt: skip
    list_filter = ["doctor__hospital", "weekday", "period", "allocation_policy", "is_active"]
    search_fields = ["doctor__name", "department__name"]
    list_select_related = ["doctor", "department"]
    actions = ["generate"]

    @admin.action(permissions=["change"], description=gettext_lazy("按所选模板生成未来两周的出诊"))
    def generate(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return
        allowed = [t.pk for t in queryset.select_related("doctor") if works_at(request.user, t.doctor.hospital_id)]
        if len(allowed) < queryset.count():
            self.message_user(request, NOT_OUR_HOSPITAL, messages.ERROR)
        created = generate_schedules(
            templates=ScheduleTemplate.objects.filter(pk__in=allowed), start_date=timezone.localdate(), days=14
        )
        self.message_user(
            request, _("已生成%(count)d个出诊（已有的保持不变）。") % {"count": created}, messages.SUCCESS
        )


class ChannelPlacesMixin:
    """Per-channel places of a slot as "已约/号源" columns, plus whether the unused reserve went online."""

    @admin.display(description=gettext_lazy("线上 已约/号源"))
    def online_places(self, slot):
        return _channel_places(slot, Channel.ONLINE)

    @admin.display(description=gettext_lazy("平台 已约/号源"))
    def partner_places(self, slot):
        return _channel_places(slot, Channel.PARTNER)

    @admin.display(description=gettext_lazy("窗口 已约/号源"))
    def window_places(self, slot):
        return _channel_places(slot, Channel.WINDOW)

    @admin.display(description=gettext_lazy("诊间 已约/号源"))
    def clinic_places(self, slot):
        return _channel_places(slot, Channel.CLINIC)

    @admin.display(description=gettext_lazy("平台余号已转线上"), boolean=True)
    def partner_released(self, slot):
        return slot.partner_released_at is not None

    @admin.display(description=gettext_lazy("窗口/诊间余号已转线上"), boolean=True)
    def reserves_released(self, slot):
        return slot.reserves_released_at is not None


def _channel_places(slot: Slot, channel: str) -> str:
    return f"{slot.booked_of(channel)}/{slot.capacity_of(channel)}"


CHANNEL_PLACES_COLUMNS = [f"{channel}_places" for channel in CHANNEL_ORDER]


class SlotInline(ChannelPlacesMixin, ScopedChoicesMixin, admin.TabularInline):
    """Read-only: places change only through booking, 加号 and 停诊, never by editing the row."""

    model = Slot
    extra = 0
    can_delete = False
    fields = ["start_at", "end_at", "capacity", "booked", *CHANNEL_PLACES_COLUMNS, "partner_released",
              "reserves_released", "is_open"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Schedule)
class ScheduleAdmin(HospitalScopedAdmin):
    list_display = ["doctor", "department", "date", "period", "allocation_policy", "status", "release_at"]
    list_filter = ["doctor__hospital", "status", "period", "allocation_policy", "date"]
    search_fields = ["doctor__name", "department__name"]
    date_hierarchy = "date"
    list_select_related = ["doctor", "department"]
    readonly_fields = ["last_queue_number", "draw_seed", "drawn_at", "suspended_at", "suspended_by"]
    inlines = [SlotInline]
    actions = ["publish"]

    def has_add_permission(self, request):
        """Sessions come from weekly templates (生成出诊), which also build their slots and channel shares."""
        return False

    def get_readonly_fields(self, request, obj=None):
        """Status changes only through the actions (发布, 停诊), which do everything that goes with them."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["status", "suspended_reason"]
        return fields

    def save_model(self, request, obj, form, change):
        # Write back only what the form changed: a full-row save would overwrite counters that
        # bookings and 加号 move concurrently with conditional UPDATEs (last_queue_number).
        if change:
            obj.save(update_fields=[name for name in form.changed_data if name in form.fields])
        else:
            obj.save()

    @admin.action(permissions=["change"], description=gettext_lazy("发布所选出诊"))
    def publish(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return
        published = skipped = 0
        for schedule in queryset.select_related("doctor"):
            if not works_at(request.user, schedule.doctor.hospital_id):
                self.message_user(request, f"{schedule}：{NOT_OUR_HOSPITAL}", messages.ERROR)
                continue
            if publish_schedule(schedule=schedule):
                published += 1
            else:
                skipped += 1
        if published:
            self.message_user(request, _("发布成功：%(count)d个出诊。") % {"count": published}, messages.SUCCESS)
        if skipped:
            self.message_user(request, _("%(count)d个出诊不是草稿，未发布。") % {"count": skipped}, messages.WARNING)


@admin.register(Slot)
class SlotAdmin(ChannelPlacesMixin, HospitalScopedAdmin):
    list_display = ["__str__", "capacity", "booked", *CHANNEL_PLACES_COLUMNS, "partner_released", "reserves_released",
                    "is_open"]  # fmt: skip
    list_filter = ["schedule__doctor__hospital", "schedule__date"]
    search_fields = ["schedule__doctor__name"]
    list_select_related = ["schedule__doctor"]
    readonly_fields = [f.name for f in Slot._meta.fields]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        """Every field is read-only; writing the row back could undo a concurrent booking's count."""


@admin.register(SlotAdjustment)
class SlotAdjustmentAdmin(HospitalScopedAdmin):
    list_display = ["slot", "channel", "places", "reason", "created_by", "created_at"]
    list_filter = ["channel", "slot__schedule__doctor__hospital"]
    search_fields = ["reason", "slot__schedule__doctor__name"]
    readonly_fields = ["slot", "channel", "places", "reason", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Release)
class ReleaseAdmin(HospitalScopedAdmin):
    """放号 records, read-only; the list warns about any release not done within 10 minutes of its time."""

    list_display = ["hospital", "day", "places", "due_at", "moment", "on_time"]
    list_filter = ["hospital", "day"]
    list_select_related = ["hospital"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description=gettext_lazy("按时放号"))
    def on_time(self, obj):
        return not obj.is_late

    def changelist_view(self, request, extra_context=None):
        hospitals = Hospital.objects.filter(is_active=True)
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is not None:
            hospitals = hospitals.filter(pk=hospital_id)
        for state in overdue_releases(hospitals=hospitals):
            if state.release is None:
                text = _("%(hospital)s %(day)s 的号应于 %(due)s 放出，至今未放号。")
            else:
                text = _("%(hospital)s %(day)s 的号应于 %(due)s 放出，迟至 %(moment)s 才放号。")
            values = {
                "hospital": state.hospital.name,
                "day": f"{state.day:%Y-%m-%d}",
                "due": f"{timezone.localtime(state.due_at):%m-%d %H:%M}",
                "moment": f"{timezone.localtime(state.release.moment):%m-%d %H:%M}" if state.release else "",
            }
            self.message_user(request, text % values, messages.WARNING)
        return super().changelist_view(request, extra_context)
