"""Staff admin for bookings, and the booking engine's staff actions on schedules and slots.

Every action is a thin wrapper: it collects input on an intermediate page where one is
needed, calls the service once per selected row, and shows the service's own message
(`DomainError.detail`) when it refuses. The rows come from the hospital-scoped queryset, but
the service's staff and role checks are the final word.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking import errors
from booking.allocation import draw_schedule, verify_draw
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from booking.services import add_places, cancel_appointment, check_in, complete_visit, suspend_schedule, waive_penalty
from config.errors import DomainError
from config.money import fen_to_yuan
from hospital.admin_scope import HospitalScopedAdmin, staff_hospital_id
from hospital.channels import CHANNEL_ORDER, Channel
from hospital.roles import may_waive_penalties, works_at
from scheduling import admin as scheduling_admin
from scheduling.models import Schedule, Slot

ACTION_FORM_TEMPLATE = "admin/booking/action_form.html"
MAX_LISTED_ROWS = 100


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("原因"), max_length=200)

    def __init__(self, *args, label=None, **kwargs):
        super().__init__(*args, **kwargs)
        if label is not None:
            self.fields["reason"].label = label


class AddPlacesForm(forms.Form):
    places = forms.IntegerField(label=gettext_lazy("加号数量"), min_value=1, max_value=50, initial=1)
    channel = forms.ChoiceField(label=gettext_lazy("渠道"), choices=Channel.choices, initial=Channel.WINDOW)
    reason = forms.CharField(label=gettext_lazy("加号原因"), max_length=200)


def _local(moment) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else ""


class StaffActionsMixin:
    """Helpers shared by the actions below: the intermediate form page and the result messages."""

    def bound_form(self, request, form_class, **kwargs):
        """The action's form, bound once the intermediate page was submitted (its button is named `apply`)."""
        return form_class(request.POST if "apply" in request.POST else None, **kwargs)

    def action_form_page(self, request, queryset, *, form, action, title, intro, columns, row, submit_label):
        rows = [row(obj) for obj in queryset[:MAX_LISTED_ROWS]]
        total = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "opts": self.model._meta,
            "form": form,
            "columns": columns,
            "rows": rows,
            "hidden_count": max(total - len(rows), 0),
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "submit_label": submit_label,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)

    def refused(self, request, obj, exc: DomainError) -> None:
        self.message_user(request, f"{obj}：{exc.detail}", messages.ERROR)

    def succeeded(self, request, text: str) -> None:
        self.message_user(request, text, messages.SUCCESS)


class ReadOnlyRowsMixin:
    """Rows that only services write: no adding, no deleting, and the change page never saves."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Every field is read-only; writing the row back could undo a service's concurrent change."""


class MaskedPatientMixin:
    """The patient's ID number and phone, masked: staff lists never show them in full."""

    @admin.display(description=gettext_lazy("证件号码"))
    def patient_id_number(self, obj):
        return obj.patient.masked_id_number

    @admin.display(description=gettext_lazy("手机号"))
    def patient_phone(self, obj):
        return obj.patient.masked_phone


# ---------------------------------------------------------------------------------------------
# Schedules and slots: 停诊, 抽签, 加号


admin.site.unregister(Schedule)
admin.site.unregister(Slot)


@admin.register(Schedule)
class ScheduleAdmin(StaffActionsMixin, scheduling_admin.ScheduleAdmin):
    actions = [*scheduling_admin.ScheduleAdmin.actions, "suspend", "draw_now", "verify"]

    @admin.action(permissions=["change"], description=gettext_lazy("停诊（取消全部预约并通知患者）"))
    def suspend(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return None
        form = self.bound_form(request, ReasonForm, label=_("停诊原因"))
        if not form.is_bound or not form.is_valid():
            active = Count("appointments", filter=Q(appointments__status__in=Appointment.ACTIVE))
            return self.action_form_page(
                request,
                queryset.select_related("doctor").annotate(active_appointments=active),
                form=form,
                action="suspend",
                title=_("停诊"),
                intro=_(
                    "以下出诊将停诊：号源关闭，有效预约全部取消（已支付的自动退款），并短信通知患者。不计入患者爽约。"
                ),
                columns=[_("出诊"), _("状态"), _("将取消的预约")],
                row=lambda s: [s, s.get_status_display(), s.active_appointments],
                submit_label=_("确认停诊"),
            )
        reason = form.cleaned_data["reason"]
        suspended = cancelled = already = 0
        for schedule in queryset.select_related("doctor"):
            if schedule.status == Schedule.Status.SUSPENDED:
                already += 1
                continue
            try:
                cancelled += suspend_schedule(schedule=schedule, reason=reason, by=request.user)
            except DomainError as exc:
                self.refused(request, schedule, exc)
                continue
            suspended += 1
        if suspended:
            self.succeeded(
                request,
                _("停诊成功：%(schedules)d个出诊，共取消预约%(appointments)d个。")
                % {"schedules": suspended, "appointments": cancelled},
            )
        if already:
            self.message_user(
                request, _("%(count)d个出诊此前已停诊，未重复处理。") % {"count": already}, messages.WARNING
            )
        return None

    @admin.action(permissions=["change"], description=gettext_lazy("立即抽签（报名已截止的抽签/优先分配出诊）"))
    def draw_now(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return
        for schedule in queryset.select_related("doctor"):
            try:
                # draw_schedule is also the clock's task and checks no caller; staff act only for their hospital.
                if not works_at(request.user, schedule.doctor.hospital_id):
                    raise errors.NotStaff()
                result = draw_schedule(schedule=schedule)
            except DomainError as exc:
                self.refused(request, schedule, exc)
                continue
            self.succeeded(
                request,
                _("抽签成功：%(schedule)s 中签%(won)d人，未中签%(lost)d人，不符合预约条件%(ineligible)d人。")
                % {
                    "schedule": schedule,
                    "won": len(result.winners),
                    "lost": len(result.losers),
                    "ineligible": len(result.ineligible),
                },
            )

    @admin.action(permissions=["view"], description=gettext_lazy("核验抽签结果（按存档种子重算）"))
    def verify(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return
        for schedule in queryset.select_related("doctor"):
            try:
                check = verify_draw(schedule=schedule)
            except DomainError as exc:
                self.refused(request, schedule, exc)
                continue
            if check.ok:
                self.succeeded(
                    request,
                    _("核验通过：%(schedule)s 按存档种子重算的抽签顺序与中签名单（%(won)d人）和记录一致。")
                    % {"schedule": schedule, "won": len(check.recorded_winners)},
                )
            else:
                self.message_user(
                    request,
                    _("核验不一致：%(schedule)s 重算的中签名单为申请 %(expected)s，记录为 %(recorded)s。")
                    % {
                        "schedule": schedule,
                        "expected": ", ".join(map(str, check.expected_winners)) or "-",
                        "recorded": ", ".join(map(str, check.recorded_winners)) or "-",
                    },
                    messages.ERROR,
                )


def _slot_places_text(slot: Slot) -> str:
    return "；".join(
        f"{Channel(channel).label} {slot.booked_of(channel)}/{slot.capacity_of(channel)}" for channel in CHANNEL_ORDER
    )


@admin.register(Slot)
class SlotAdmin(StaffActionsMixin, scheduling_admin.SlotAdmin):
    actions = ["add_places"]

    def has_add_places_permission(self, request):
        """加号 is open to every role add_places allows — the front desk too, which may only view
        slots — so whoever can see the slot may try; the service decides by role."""
        return self.has_view_permission(request)

    @admin.action(permissions=["add_places"], description=gettext_lazy("加号"))
    def add_places(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return None
        form = self.bound_form(request, AddPlacesForm)
        if not form.is_bound or not form.is_valid():
            return self.action_form_page(
                request,
                queryset.select_related("schedule__doctor"),
                form=form,
                action="add_places",
                title=_("加号"),
                intro=_("为以下时段增加号源（每个时段各加所填数量），并记录操作人和原因。"),
                columns=[_("时段"), _("号源总数"), _("已约"), _("各渠道 已约/号源")],
                row=lambda s: [s, s.capacity, s.booked, _slot_places_text(s)],
                submit_label=_("确认加号"),
            )
        data = form.cleaned_data
        added = 0
        for slot in queryset.select_related("schedule__doctor"):
            try:
                add_places(
                    slot=slot, places=data["places"], channel=data["channel"], reason=data["reason"], by=request.user
                )
            except DomainError as exc:
                self.refused(request, slot, exc)
                continue
            added += 1
        if added:
            self.succeeded(
                request,
                _("加号成功：%(slots)d个时段，每个时段“%(channel)s”渠道增加%(places)d个号源。")
                % {"slots": added, "channel": Channel(data["channel"]).label, "places": data["places"]},
            )
        return None


# ---------------------------------------------------------------------------------------------
# Appointments: 签到, 完成就诊, 医院取消


@admin.register(Appointment)
class AppointmentAdmin(StaffActionsMixin, MaskedPatientMixin, ReadOnlyRowsMixin, HospitalScopedAdmin):
    list_display = ["order_no", "patient", "patient_id_number", "patient_phone", "doctor", "visit_date",
                    "queue_number", "channel", "booked_by", "partner", "status", "fee_yuan", "created_at"]  # fmt: skip
    list_filter = ["hospital", "status", "channel", "visit_date"]
    search_fields = ["order_no", "patient__name", "doctor__name"]
    date_hierarchy = "visit_date"
    list_select_related = ["patient", "doctor", "booked_by", "partner"]
    readonly_fields = [*(f.name for f in Appointment._meta.fields), "patient_id_number", "patient_phone"]
    actions = ["check_in", "complete_visit", "cancel_by_hospital"]

    @admin.display(description=gettext_lazy("挂号费（元）"), ordering="fee_fen")
    def fee_yuan(self, appointment):
        return fen_to_yuan(appointment.fee_fen)

    def _each(self, request, queryset, service, success):
        """Call `service(appointment=…, by=…)` for each selected appointment; refusals show their message."""
        if self.nothing_in_scope(request, queryset):
            return
        done = 0
        for appointment in queryset:
            try:
                service(appointment=appointment, by=request.user)
            except DomainError as exc:
                self.refused(request, appointment, exc)
                continue
            done += 1
        if done:
            self.succeeded(request, success % {"count": done})

    @admin.action(permissions=["change"], description=gettext_lazy("签到"))
    def check_in(self, request, queryset):
        self._each(request, queryset, check_in, _("签到成功：%(count)d个预约。"))

    @admin.action(permissions=["change"], description=gettext_lazy("完成就诊"))
    def complete_visit(self, request, queryset):
        self._each(request, queryset, complete_visit, _("完成就诊成功：%(count)d个预约。"))

    @admin.action(permissions=["change"], description=gettext_lazy("取消预约（医院原因）"))
    def cancel_by_hospital(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return None
        form = self.bound_form(request, ReasonForm, label=_("取消说明"))
        if not form.is_bound or not form.is_valid():
            return self.action_form_page(
                request,
                queryset.select_related("patient", "doctor"),
                form=form,
                action="cancel_by_hospital",
                title=_("取消预约（医院原因）"),
                intro=_("以下预约将因医院原因取消：号源退回，已支付的自动退款，不计入患者爽约。"),
                columns=[_("订单号"), _("就诊人"), _("证件号码"), _("医生"), _("就诊日期"), _("状态")],
                row=lambda a: [
                    a.order_no,
                    a.patient.name,
                    a.patient.masked_id_number,
                    a.doctor.name,
                    a.visit_date,
                    a.get_status_display(),
                ],
                submit_label=_("确认取消"),
            )
        note = form.cleaned_data["reason"]
        done = 0
        for appointment in queryset:
            try:
                cancel_appointment(
                    user=request.user, appointment=appointment, reason=Appointment.CancelReason.STAFF, note=note
                )
            except DomainError as exc:
                self.refused(request, appointment, exc)
                continue
            done += 1
        if done:
            self.succeeded(request, _("取消成功：%(count)d个预约。") % {"count": done})
        return None


@admin.register(BookingRequest)
class BookingRequestAdmin(ReadOnlyRowsMixin, HospitalScopedAdmin):
    list_display = ["patient", "schedule", "urgency", "score", "draw_rank", "status", "created_at"]
    list_filter = ["status", "urgency", "schedule__doctor__hospital"]
    search_fields = ["patient__name", "schedule__doctor__name"]
    readonly_fields = [f.name for f in BookingRequest._meta.fields]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyRowsMixin, HospitalScopedAdmin):
    list_display = ["patient", "schedule", "status", "created_at", "promoted_at"]
    list_filter = ["status", "schedule__doctor__hospital"]
    search_fields = ["patient__name", "schedule__doctor__name"]
    readonly_fields = [f.name for f in WaitlistEntry._meta.fields]


# ---------------------------------------------------------------------------------------------
# Penalties and bans


@admin.register(Penalty)
class PenaltyAdmin(StaffActionsMixin, MaskedPatientMixin, ReadOnlyRowsMixin, HospitalScopedAdmin):
    list_display = ["patient", "patient_id_number", "hospital", "kind", "occurred_at", "appointment", "waived_at",
                    "waive_reason"]  # fmt: skip
    list_filter = ["hospital", "kind", "waived_at"]
    search_fields = ["patient__name", "appointment__order_no"]
    list_select_related = ["patient", "hospital", "appointment"]
    readonly_fields = [*(f.name for f in Penalty._meta.fields), "patient_id_number"]
    actions = ["waive"]

    def has_waive_permission(self, request):
        """Only a hospital_admin (or a superuser) waives records and so lifts bans; the front desk may not."""
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is None:
            return True
        return self.has_change_permission(request) and may_waive_penalties(user=request.user, hospital_id=hospital_id)

    @admin.action(permissions=["waive"], description=gettext_lazy("撤销失信记录"))
    def waive(self, request, queryset):
        if self.nothing_in_scope(request, queryset):
            return None
        form = self.bound_form(request, ReasonForm, label=_("撤销原因"))
        if not form.is_bound or not form.is_valid():
            return self.action_form_page(
                request,
                queryset.select_related("patient"),
                form=form,
                action="waive",
                title=_("撤销失信记录"),
                intro=_("以下记录将被撤销，不再计入爽约次数；由它们导致的预约限制会随之解除。"),
                columns=[_("就诊人"), _("证件号码"), _("类型"), _("发生时间"), _("撤销时间")],
                row=lambda p: [
                    p.patient.name,
                    p.patient.masked_id_number,
                    p.get_kind_display(),
                    _local(p.occurred_at),
                    _local(p.waived_at) or "-",
                ],
                submit_label=_("确认撤销"),
            )
        reason = form.cleaned_data["reason"]
        waived = already = 0
        for penalty in queryset:
            if penalty.waived_at is not None:
                already += 1
                continue
            try:
                waive_penalty(penalty=penalty, by=request.user, reason=reason)
            except DomainError as exc:
                self.refused(request, penalty, exc)
                continue
            waived += 1
        if waived:
            self.succeeded(request, _("撤销成功：%(count)d条失信记录。") % {"count": waived})
        if already:
            self.message_user(request, _("%(count)d条记录此前已撤销。") % {"count": already}, messages.WARNING)
        return None


@admin.register(BookingBan)
class BookingBanAdmin(MaskedPatientMixin, ReadOnlyRowsMixin, HospitalScopedAdmin):
    list_display = ["patient", "patient_id_number", "hospital", "starts_at", "ends_at", "reason", "lifted",
                    "lifted_at", "lift_reason"]  # fmt: skip
    list_filter = ["hospital", "lifted_at"]
    search_fields = ["patient__name", "reason"]
    list_select_related = ["patient", "hospital"]
    readonly_fields = [*(f.name for f in BookingBan._meta.fields), "patient_id_number"]

    @admin.display(description=gettext_lazy("已解除"), boolean=True)
    def lifted(self, ban):
        return ban.lifted_at is not None
