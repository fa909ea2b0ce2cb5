"""`GET /api/v1/departments/search/`: 导诊, from a symptom to a department. Public and read-only.

Its own module and `urlpatterns`, gathered by config/api_v1.py.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from hospital.models import Hospital
from hospital.triage import departments_for_symptom


class DepartmentMatchSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(source="department.pk")
    department_name = serializers.CharField(source="department.__str__")
    department_kind = serializers.CharField(source="department.kind")
    department_kind_display = serializers.CharField(source="department.get_kind_display")
    hospital_id = serializers.IntegerField(source="department.hospital_id")
    hospital_name = serializers.CharField(source="department.hospital.name")
    score = serializers.IntegerField()
    keywords = serializers.ListField(child=serializers.CharField(), help_text="命中的关键词。")
    next_available_date = serializers.DateField(
        allow_null=True, help_text="最近一个还有线上号源的出诊日（可能尚未放号）；没有则为 null。"
    )


class DepartmentSearchSerializer(serializers.Serializer):
    notice = serializers.CharField(help_text="急诊提示：如遇紧急情况请拨打120。")
    results = DepartmentMatchSerializer(many=True)


class DepartmentSearchApi(APIView):
    # Public: a stale or foreign X-Session-Token must not turn a symptom search into a 401.
    authentication_classes = []
    permission_classes = [AllowAny]

    class Input(serializers.Serializer):
        q = serializers.CharField(max_length=100, help_text="症状或关键词，如“胸闷”“孩子发烧”“膝盖疼”。")
        hospital = serializers.PrimaryKeyRelatedField(
            queryset=Hospital.objects.filter(is_active=True),
            required=False,
            help_text="只看这家医院的科室；不填则所有开放预约的医院。",
        )
        age = serializers.IntegerField(
            min_value=0, max_value=150, required=False, help_text="就诊人年龄（岁）；14岁以下优先儿科。"
        )

    Output = DepartmentSearchSerializer

    @extend_schema(
        operation_id="departments_search",
        summary="导诊：按症状找科室",
        parameters=[Input],
        responses={200: Output},
        auth=[],
    )
    def get(self, request):
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        hospital = params.validated_data.get("hospital")
        answer = departments_for_symptom(
            hospital_id=hospital.pk if hospital else None,
            text=params.validated_data["q"],
            age=params.validated_data.get("age"),
        )
        return Response(self.Output(answer).data)


urlpatterns = [
    path("departments/search/", DepartmentSearchApi.as_view(), name="departments_search"),
]
