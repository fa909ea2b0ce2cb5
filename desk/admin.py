from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.errors import DomainError
from config.readonly_admin import ReadOnlyAdminMixin
from desk import services
from desk.models import DailyStatistics, SuspensionRequest
from hospital.admin_scope import HospitalScopedAdmin
from scheduling.admin import DepartmentScopedMixin


@admin.register(SuspensionRequest)
class SuspensionRequestAdmin(DepartmentScopedMixin, HospitalScopedAdmin):
    """Doctors' 停诊 requests: a hospital_admin, or the department's scheduler, confirms or rejects them."""

    department_path = "schedule__department"
    list_display = ["schedule", "reason", "requested_by", "created_at", "status", "decided_by", "decided_at"]
    list_filter = ["status", "schedule__doctor__hospital"]
    search_fields = ["schedule__doctor__name", "reason"]
    list_select_related = ["schedule__doctor", "requested_by", "decided_by"]
    readonly_fields = [f.name for f in SuspensionRequest._meta.fields]
    actions = ["confirm", "reject"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Read-only rows: decisions go through the actions."""

    def _decide(self, request, queryset, decide, success):
        if self.nothing_in_scope(request, queryset):
            return
        done = 0
        for suspension in queryset.select_related("schedule__doctor"):
            try:
                decide(suspension)
            except DomainError as exc:
                self.message_user(request, f"{suspension}：{exc.detail}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, success % {"count": done}, messages.SUCCESS)

    @admin.action(permissions=["change"], description=gettext_lazy("确认停诊（取消全部预约并通知患者）"))
    def confirm(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda s: services.confirm_suspension(request=s, by=request.user),
            _("已确认%(count)d个停诊申请。"),
        )

    @admin.action(permissions=["change"], description=gettext_lazy("驳回停诊申请"))
    def reject(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda s: services.reject_suspension(request=s, by=request.user, note=_("驳回")),
            _("已驳回%(count)d个停诊申请。"),
        )


@admin.register(DailyStatistics)
class DailyStatisticsAdmin(ReadOnlyAdminMixin, HospitalScopedAdmin):
    list_display = ["date", "department", "channel", "capacity", "booked", "bookings", "no_shows", "revenue_yuan",
                    "waitlist", "computed_at"]  # fmt: skip
    list_filter = ["hospital", "channel", "date"]
    list_select_related = ["department"]
    readonly_fields = [f.name for f in DailyStatistics._meta.fields]

    @admin.display(description=gettext_lazy("收入（元）"), ordering="revenue_fen")
    def revenue_yuan(self, row):
        return row.revenue_yuan
