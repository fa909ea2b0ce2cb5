"""就诊人 for the signed-in account. Documents and phones leave the server masked."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Patient
from accounts.selectors import patients_of
from config.api import StandardPagination, get_or_404


class PatientOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    gender = serializers.ChoiceField(choices=Patient.Gender.choices)
    birth_date = serializers.DateField()
    relation = serializers.ChoiceField(choices=Patient.Relation.choices)
    id_type = serializers.ChoiceField(choices=Patient.IdType.choices)
    id_number = serializers.CharField(source="masked_id_number", help_text="脱敏后的证件号码")
    phone = serializers.CharField(source="masked_phone", help_text="脱敏后的手机号")
    has_real_name = serializers.BooleanField()


class PatientIn(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    gender = serializers.ChoiceField(choices=Patient.Gender.choices)
    birth_date = serializers.DateField()
    relation = serializers.ChoiceField(choices=Patient.Relation.choices, default=Patient.Relation.SELF)
    id_type = serializers.ChoiceField(choices=Patient.IdType.choices, default=Patient.IdType.RESIDENT_ID)
    id_number = serializers.CharField(max_length=30, allow_blank=True, default="")
    phone = serializers.CharField(max_length=20, allow_blank=True, default="")


def _model_errors(exc: DjangoValidationError) -> ValidationError:
    """The model's real-name checks, as the API's 400 `invalid` with per-field messages."""
    if hasattr(exc, "error_dict"):
        return ValidationError({field: [str(m) for m in messages] for field, messages in exc.message_dict.items()})
    return ValidationError({"non_field_errors": [str(m) for m in exc.messages]})


@extend_schema(tags=["patients"])
class PatientListApi(APIView):
    pagination_class = StandardPagination  # also tells the schema the list is paged

    @extend_schema(summary="我的就诊人", responses=PatientOut(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(patients_of(user=request.user), request, view=self)
        return paginator.get_paginated_response(PatientOut(page, many=True).data)

    @extend_schema(summary="添加就诊人（实名校验）", request=PatientIn, responses={201: PatientOut})
    def post(self, request):
        data = PatientIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            patient = services.create_patient(user=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise _model_errors(exc) from exc
        return Response(PatientOut(patient).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["patients"])
class PatientDetailApi(APIView):
    class PatchIn(PatientIn):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, partial=True, **kwargs)

    @extend_schema(summary="就诊人详情", responses=PatientOut)
    def get(self, request, patient_id: int):
        return Response(PatientOut(get_or_404(patients_of(user=request.user), pk=patient_id)).data)

    @extend_schema(summary="修改就诊人（已实名的身份信息不可改）", request=PatchIn, responses=PatientOut)
    def patch(self, request, patient_id: int):
        patient = get_or_404(patients_of(user=request.user), pk=patient_id)
        data = self.PatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            patient = services.update_patient(patient=patient, **data.validated_data)
        except DjangoValidationError as exc:
            raise _model_errors(exc) from exc
        return Response(PatientOut(patient).data)

    @extend_schema(
        summary="删除就诊人（有历史记录的改为停用）",
        responses={204: OpenApiResponse(description="已删除或停用")},
    )
    def delete(self, request, patient_id: int):
        patient = get_or_404(patients_of(user=request.user), pk=patient_id)
        services.deactivate_patient(patient=patient)
        return Response(status=status.HTTP_204_NO_CONTENT)
