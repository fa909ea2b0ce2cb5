"""Browsing for patients (public): hospitals, their department tree, a doctor (the doctor list and
sessions need schedules: scheduling/api.py)."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import PublicReadMixin, get_or_404
from hospital import selectors


class HospitalOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    level = serializers.CharField()
    level_display = serializers.CharField(source="get_level_display")
    address = serializers.CharField()
    phone = serializers.CharField()
    description = serializers.CharField()
    department_count = serializers.IntegerField()
    doctor_count = serializers.IntegerField()


@extend_schema(tags=["browsing"], summary="医院列表")
class HospitalListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = HospitalOut
    filter_backends: list = []

    def get_queryset(self):
        return selectors.active_hospitals()


@extend_schema_field(
    {"type": "array", "items": {"type": "object", "additionalProperties": True}, "description": "下级科室（同样结构）"}
)
class ChildrenField(serializers.Field):
    def to_representation(self, value):
        return [DepartmentNodeOut(child).data for child in value]


class DepartmentNodeOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    location = serializers.CharField()
    description = serializers.CharField()
    children = ChildrenField(source="tree_children")


@extend_schema(tags=["browsing"], summary="医院的科室树", responses=DepartmentNodeOut(many=True))
class DepartmentTreeApi(PublicReadMixin, APIView):
    def get(self, request, hospital_id: int):
        hospital = selectors.active_hospital(hospital_id=hospital_id)
        if hospital is None:
            raise NotFound()
        roots = selectors.open_department_tree(hospital=hospital)
        return Response(DepartmentNodeOut(roots, many=True).data)


class DepartmentBriefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class HospitalBriefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class DoctorOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    title = serializers.CharField()
    title_display = serializers.CharField(source="get_title_display")
    specialty = serializers.CharField()
    intro = serializers.CharField()
    registration_fee_fen = serializers.IntegerField()
    hospital = HospitalBriefOut()
    departments = DepartmentBriefOut(many=True, source="departments.all")


@extend_schema(tags=["browsing"], summary="医生详情")
class DoctorDetailApi(PublicReadMixin, APIView):
    @extend_schema(responses=DoctorOut)
    def get(self, request, doctor_id: int):
        doctor = get_or_404(selectors.doctors_for_patients(), pk=doctor_id)
        return Response(DoctorOut(doctor).data)
