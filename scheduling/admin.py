"""Schedules and slots in the staff admin.

booking/admin.py extends ScheduleAdmin and SlotAdmin with the booking engine's staff actions
(停诊, 加号, 抽签): those call booking's services, and scheduling must not depend on booking.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.forms import YuanField, YuanFieldsMixin
from config.money import fen_to_yuan
from config.readonly_admin import ReadOnlyAdminMixin
from hospital.admin_scope import HospitalScopedAdmin, ScopedChoicesMixin, staff_hospital_id
from hospital.audit import AuditedSaveMixin, field_changes, record
from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import AuditRecord, Hospital
from hospital.roles import scheduler_department_ids, works_at
from scheduling.models import Release, Schedule, ScheduleTemplate, Slot, SlotAdjustment
from scheduling.selectors import overdue_releases
from scheduling.services import generate_schedules, publish_schedule

NOT_OUR_HOSPITAL = gettext_lazy("只有本院工作人员可以进行此操作。")


class DepartmentScopedMixin:
    """A scheduler sees and manages only the departments they are given (hospital_admin: all of them)."""

    department_path = "department"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        departments = scheduler_department_ids(request.user)
        if departments is None:
            return queryset
        return queryset.filter(**{f"{self.department_path}__in": departments})

    def scope_choices(self, field, request):
        field = super().scope_choices(field, request)
        departments = scheduler_department_ids(request.user)
        queryset = getattr(field, "queryset", None)
        if departments is not None and queryset is not None and queryset.model._meta.label == "hospital.Department":
            field.queryset = queryset.filter(pk__in=departments)
        return field


@admin.register(ScheduleTemplate)
class ScheduleTemplateAdmin(DepartmentScopedMixin, AuditedSaveMixin, HospitalScopedAdmin):
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
            templates=ScheduleTemplate.objects.filter(pk__in=allowed),
            start_date=timezone.localdate(),
            days=14,
            by=request.user,
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

    @admin.display(description=gettext_lazy("平台余号转线上"), boolean=True)
    def partner_released(self, slot):
        return slot.partner_released_at is not None

    @admin.display(description=gettext_lazy("窗口诊间余号转线上"), boolean=True)
    def reserves_released(self, slot):
        return slot.reserves_released_at is not None


class CompactListMixin:
    """One line per row on a 1280 px screen: short dates, no wrapping (see the stylesheet)."""

    class Media:
        css = {"all": ["scheduling/changelist.css"]}


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


FORM_TO_MODEL = {"fee": "fee_fen"}


class ScheduleForm(YuanFieldsMixin, forms.ModelForm):
    """The session's fee is typed in yuan (20.00) and stored in fen."""

    fee = YuanField(label=gettext_lazy("挂号费（元）"))
    yuan_fields = FORM_TO_MODEL

    class Meta:
        model = Schedule
        fields = ["doctor", "department", "template", "date", "period", "start_at", "end_at", "allocation_policy",
                  "release_at", "request_closes_at", "status", "suspended_reason"]  # fmt: skip


@admin.register(Schedule)
class ScheduleAdmin(CompactListMixin, DepartmentScopedMixin, HospitalScopedAdmin):
    list_display = ["doctor_name", "department", "day", "period", "allocation_policy", "status", "fee_yuan",
                    "release_time"]  # fmt: skip
    list_filter = ["doctor__hospital", "status", "period", "allocation_policy"]  # dates: the date bar above the list
    search_fields = ["doctor__name", "department__name"]
    date_hierarchy = "date"
    list_select_related = ["doctor", "department"]
    readonly_fields = ["last_queue_number", "draw_seed", "drawn_at", "suspended_at", "suspended_by"]
    inlines = [SlotInline]
    form = ScheduleForm

    @admin.display(description=gettext_lazy("医生"), ordering="doctor__name")
    def doctor_name(self, schedule):
        return schedule.doctor.name

    @admin.display(description=gettext_lazy("出诊日期"), ordering="date")
    def day(self, schedule):
        return f"{schedule.date:%Y-%m-%d}"

    @admin.display(description=gettext_lazy("挂号费（元）"), ordering="fee_fen")
    def fee_yuan(self, schedule):
        return fen_to_yuan(schedule.fee_fen)

    @admin.display(description=gettext_lazy("放号时间"), ordering="release_at")
    def release_time(self, schedule):
        return f"{timezone.localtime(schedule.release_at):%m-%d %H:%M}"

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
        names = [FORM_TO_MODEL.get(name, name) for name in form.changed_data if name in form.fields]
        with transaction.atomic():
            before = Schedule.objects.filter(pk=obj.pk).first() if change else None
            if change:
                obj.save(update_fields=names)
            else:
                obj.save()
            record(
                hospital_id=obj.doctor.hospital_id,
                actor=request.user,
                action=AuditRecord.Action.SCHEDULE_CHANGED,
                target=obj,
                changes=field_changes(before, obj, names) if before else {"created": [None, str(obj)]},
            )

    @admin.action(permissions=["change"], description=gettext_lazy("发布所选出诊"))
    def publish(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return
        published = skipped = 0
        for schedule in queryset.select_related("doctor"):
            if not works_at(request.user, schedule.doctor.hospital_id):
                self.message_user(request, f"{schedule}：{NOT_OUR_HOSPITAL}", messages.ERROR)
                continue
            if publish_schedule(schedule=schedule, by=request.user):
                published += 1
            else:
                skipped += 1
        if published:
            self.message_user(request, _("发布成功：%(count)d个出诊。") % {"count": published}, messages.SUCCESS)
        if skipped:
            self.message_user(request, _("%(count)d个出诊不是草稿，未发布。") % {"count": skipped}, messages.WARNING)


@admin.register(Slot)
class SlotAdmin(CompactListMixin, DepartmentScopedMixin, ChannelPlacesMixin, HospitalScopedAdmin):
    department_path = "schedule__department"
    # Short columns, no filter sidebar for staff (dates are in the date bar): one line per row at 1280 px.
    list_display = ["segment", "places", "online_short", "partner_short", "window_short", "clinic_short",
                    "partner_released", "reserves_released", "is_open"]  # fmt: skip
    list_filter = ["schedule__doctor__hospital"]
    date_hierarchy = "schedule__date"
    search_fields = ["schedule__doctor__name"]
    list_select_related = ["schedule__doctor"]
    readonly_fields = [f.name for f in Slot._meta.fields]

    @admin.display(description=gettext_lazy("时段"), ordering="start_at")
    def segment(self, slot):
        start, end = timezone.localtime(slot.start_at), timezone.localtime(slot.end_at)
        return f"{slot.schedule.doctor.name} {start:%m-%d %H:%M}–{end:%H:%M}"

    @admin.display(description=gettext_lazy("已约/号源"))
    def places(self, slot):
        return f"{slot.booked}/{slot.capacity}"

    @admin.display(description=gettext_lazy("线上"))
    def online_short(self, slot):
        return _channel_places(slot, Channel.ONLINE)

    @admin.display(description=gettext_lazy("平台"))
    def partner_short(self, slot):
        return _channel_places(slot, Channel.PARTNER)

    @admin.display(description=gettext_lazy("窗口"))
    def window_short(self, slot):
        return _channel_places(slot, Channel.WINDOW)

    @admin.display(description=gettext_lazy("诊间"))
    def clinic_short(self, slot):
        return _channel_places(slot, Channel.CLINIC)

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
class ReleaseAdmin(ReadOnlyAdminMixin, HospitalScopedAdmin):
    """放号 records, read-only; the list warns about any release not done within 10 minutes of its time."""

    list_display = ["hospital", "day", "places", "due_at", "moment", "on_time"]
    list_filter = ["hospital", "day"]
    list_select_related = ["hospital"]
    date_hierarchy = "day"

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
