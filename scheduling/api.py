"""Browsing for patients (public): doctors with free places on a day, and a doctor's sessions."""

import datetime

import django_filters
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import PublicReadMixin, get_or_404
from hospital.api import DepartmentBriefOut, DoctorOut
from hospital.models import Doctor
from hospital.selectors import doctors_for_patients
from scheduling.selectors import (
    cached_doctor_schedules,
    doctors_with_online_places_on,
    schedules_for_patients,
)

MAX_SCHEDULE_DAYS = 62


class DoctorFilter(django_filters.FilterSet):
    hospital = django_filters.NumberFilter(field_name="hospital_id", label=_("医院"))
    department = django_filters.NumberFilter(method="in_department", label=_("科室（含下级科室）"))
    q = django_filters.CharFilter(method="search", label=_("医生姓名或擅长"), max_length=50)
    available_on = django_filters.DateFilter(method="available", label=_("当天有线上余号"))

    class Meta:
        model = Doctor
        fields: list[str] = []

    def in_department(self, queryset, name, value):
        return queryset.filter(Q(departments__id=value) | Q(departments__parent_id=value)).distinct()

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(specialty__icontains=value))

    def available(self, queryset, name, value):
        return queryset.filter(Exists(doctors_with_online_places_on(day=value).filter(schedule__doctor=OuterRef("pk"))))


@extend_schema(tags=["browsing"], summary="医生列表（可按医院、科室、关键词、有号日期筛选）")
class DoctorListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = DoctorOut
    filterset_class = DoctorFilter

    def get_queryset(self):
        return doctors_for_patients()


class SlotOut(serializers.Serializer):
    id = serializers.IntegerField()
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()
    places_left = serializers.IntegerField(help_text=_("线上剩余号源"))


class ScheduleOut(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    period = serializers.CharField()
    period_display = serializers.CharField(source="get_period_display")
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()
    department = DepartmentBriefOut()
    fee_fen = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["published", "suspended"])
    policy = serializers.ChoiceField(choices=["fcfs", "lottery", "priority"], source="allocation_policy")
    release_at = serializers.DateTimeField(help_text=_("放号时间"))
    request_closes_at = serializers.DateTimeField(allow_null=True, help_text=_("抽签/优先分配报名截止时间"))
    places_left = serializers.SerializerMethodField(help_text=_("线上剩余号源合计"))
    slots = SlotOut(many=True, source="open_slots")

    def get_places_left(self, schedule) -> int:
        return sum(slot.places_left for slot in schedule.open_slots)


class ScheduleQuery(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs):
        today = timezone.localdate()
        attrs.setdefault("date_from", today)
        default_to = attrs["date_from"] + datetime.timedelta(
            days=min(30, (datetime.date.max - attrs["date_from"]).days)
        )
        attrs.setdefault("date_to", default_to)
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": _("结束日期不能早于开始日期。")})
        if (attrs["date_to"] - attrs["date_from"]).days > MAX_SCHEDULE_DAYS:
            raise serializers.ValidationError({"date_to": _("一次最多查询%(days)d天。") % {"days": MAX_SCHEDULE_DAYS}})
        return attrs


def doctor_schedules(*, doctor_id: int, date_from, date_to) -> list[dict]:
    """A doctor's sessions as the API shows them, through the browse cache (see scheduling.selectors).

    An unknown or closed doctor is a 404, never cached.
    """

    def build():
        doctor = get_or_404(Doctor.objects.filter(is_active=True, hospital__is_active=True), pk=doctor_id)
        schedules = schedules_for_patients(doctor_id=doctor.pk, date_from=date_from, date_to=date_to)
        return list(ScheduleOut(schedules, many=True).data)

    return cached_doctor_schedules(doctor_id=doctor_id, date_from=date_from, date_to=date_to, build=build)


def default_schedule_range(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The range a request without dates asks for (today and the next 30 days)."""
    query = ScheduleQuery(data={"date_from": today} if today else {})
    query.is_valid(raise_exception=True)
    return query.validated_data["date_from"], query.validated_data["date_to"]


@extend_schema(tags=["browsing"], summary="医生的出诊排班与号源")
class DoctorSchedulesApi(PublicReadMixin, APIView):
    @extend_schema(
        description=f"余号可能滞后至多{settings.SCHEDULES_CACHE_SECONDS}秒；预约、退号、停诊、加号后立即更新。",
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="默认今天"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="默认开始日期后30天，最多62天"),
        ],
        responses=ScheduleOut(many=True),
    )
    def get(self, request, doctor_id: int):
        query = ScheduleQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = doctor_schedules(
            doctor_id=doctor_id, date_from=query.validated_data["date_from"], date_to=query.validated_data["date_to"]
        )
        return Response(data)
