"""Staff reports in the admin: the queue report and the fairness comparison, scoped by hospital.

Both pages hang off the AttemptMinute admin (its view permission opens them). Every choice a
form offers comes from the staff member's own hospital, and an id of another hospital's
department or session in the query string answers 404: never its data.
"""

import datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics import charts, fairness, reports, selectors
from analytics.charts import POLICY_LABELS, URGENCY_LABELS
from analytics.models import AttemptMinute
from config.readonly_admin import ReadOnlyAdminMixin
from hospital.admin_scope import HospitalScopedAdmin, in_hospital, staff_hospital_id
from hospital.models import Department

MAX_SIMULATED_PATIENTS = 10_000  # three policies × the rounds stay a few seconds


class QueueReportForm(forms.Form):
    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=_("科室"))
    date_from = forms.DateField(label=_("开始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("结束日期"), widget=forms.DateInput(attrs={"type": "date"}))
    target_wait = forms.FloatField(label=_("目标平均等候（分钟）"), initial=15, min_value=0.1, max_value=600)
    target_p99_ms = forms.FloatField(label=_("预约响应 p99 目标（毫秒）"), initial=500, min_value=1, max_value=60_000)

    def __init__(self, *args, hospital_id, **kwargs):
        super().__init__(*args, **kwargs)
        departments = Department.objects.select_related("hospital").order_by("hospital_id", "name")
        if hospital_id is not None:
            departments = departments.filter(in_hospital(Department, hospital_id))
        self.fields["department"].queryset = departments

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise forms.ValidationError(_("结束日期不能早于开始日期。"))
        if data.get("date_from") and data.get("date_to") and (data["date_to"] - data["date_from"]).days > 366:
            raise forms.ValidationError(_("统计期间最长一年。"))
        return data


class FairnessForm(forms.Form):
    schedule = forms.IntegerField(label=_("出诊排班编号"), min_value=1)
    rounds = forms.IntegerField(label=_("模拟放号次数"), initial=fairness.DEFAULT_ROUNDS, min_value=1, max_value=100)


@admin.register(AttemptMinute)
class AttemptMinuteAdmin(ReadOnlyAdminMixin, HospitalScopedAdmin):
    list_display = ("schedule", "minute", "attempts", "won")
    list_select_related = ("schedule__doctor", "schedule__department")
    list_filter = ("schedule__doctor__hospital",)
    date_hierarchy = "minute"
    readonly_fields = ("schedule", "minute", "attempts", "won")
    change_list_template = "admin/analytics/attemptminute/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("queue-report/", wrap(self.queue_report_view), name="analytics_queue_report"),
            path("fairness/", wrap(self.fairness_view), name="analytics_fairness"),
            *super().get_urls(),
        ]

    def _context(self, request, title, **extra):
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **extra}

    def queue_report_view(self, request):
        hospital_id = staff_hospital_id(request.user)
        context = self._context(request, _("门诊排队与号源规划"))
        today = timezone.localdate()
        initial = {"date_from": today - datetime.timedelta(days=28), "date_to": today}
        form = QueueReportForm(request.GET or None, hospital_id=hospital_id, initial=initial)
        if request.GET and not form.is_valid() and "department" in form.errors and request.GET.get("department"):
            raise Http404  # not a department of this staff member's hospital (or none at all)
        context["form"] = form
        if form.is_bound and form.is_valid():
            department = form.cleaned_data["department"]
            report = reports.queue_report(
                hospital_id=department.hospital_id,
                department_id=department.pk,
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
                target_wait_minutes=form.cleaned_data["target_wait"],
                target_p99_ms=form.cleaned_data["target_p99_ms"],
            )
            context.update(
                report=report,
                department=department,
                capacity_chart=charts.data_uri(charts.capacity_chart(report.plan)) if report.plan.hours else None,
                admission_chart=charts.data_uri(charts.admission_chart(report.admission)),
            )
        return TemplateResponse(request, "admin/analytics/queue_report.html", context)

    def fairness_view(self, request):
        hospital_id = staff_hospital_id(request.user)
        context = self._context(request, _("分配方式公平性对比"))
        schedules = selectors.schedules_for_staff(hospital_id=hospital_id)
        form = FairnessForm(request.GET or None)
        context.update(form=form, recent_schedules=schedules[:30])
        if form.is_bound and form.is_valid():
            schedule = schedules.filter(pk=form.cleaned_data["schedule"]).first()
            if schedule is None:
                raise Http404  # another hospital's session, or none
            demand = selectors.schedule_demand(schedule=schedule)
            patients = min(max(demand["patients"], 1), MAX_SIMULATED_PATIENTS)
            results = fairness.compare_policies(
                patients=patients, places=demand["places"], seed=schedule.pk, rounds=form.cleaned_data["rounds"]
            )
            context.update(
                schedule=schedule,
                demand=demand,
                simulated_patients=patients,
                results=[_fairness_row(result) for result in results],
                age_bands=[name for name, _low, _high in fairness.AGE_BANDS],
                urgencies=[URGENCY_LABELS[u] for u in sorted(results[0].by_urgency)],
                chart=charts.data_uri(charts.fairness_chart(results)),
            )
        return TemplateResponse(request, "admin/analytics/fairness.html", context)


def _fairness_row(result: fairness.FairnessReport) -> dict:
    return {
        "policy": POLICY_LABELS[result.policy],
        "success_rate": result.success_rate,
        "by_age_band": list(result.by_age_band.values()),
        "by_urgency": [result.by_urgency[u] for u in sorted(result.by_urgency)],
        "fastest_tenth_share": result.fastest_tenth_share,
        "slowest_decile": result.by_speed_decile[-1],
        "fastest_decile": result.by_speed_decile[0],
        "jain_index": result.jain_index,
        "jain_of_a_fair_draw": result.jain_of_a_fair_draw,
    }
