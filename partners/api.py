"""`/api/partner/v1/`: third-party platforms read the hospitals that granted them and book in the
partner channel on a real-name patient's behalf. Thin: validate → one service → serialize."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from booking.api_reschedule import RescheduledAppointmentOut, start_paying_due
from booking.models import Appointment
from config.api import IDEMPOTENCY_PARAMETER, idempotency_key
from config.throttling import BookingRateThrottle, UserRateThrottle
from hospital.models import Doctor, Hospital
from partners import errors, selectors, services
from partners.auth import HasPartnerKey, PartnerKeyAuthentication
from payments.models import DEFAULT_METHODS, Provider
from scheduling.models import Slot

TAG = "partner"


class PartnerView:
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [HasPartnerKey]
    throttle_classes = [UserRateThrottle]
    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema without a key
            return self.model.objects.none()
        return self.scoped(self.request.partner)

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise exceptions.NotFound() from None


def scoped_get(queryset, **lookup):
    """The caller's object or a 404 `not_found` (another partner's, or an ungranted hospital's)."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise exceptions.NotFound()
    return obj


# ---------------------------------------------------------------------------------------------
# Output


class PartnerHospitalOut(serializers.ModelSerializer):
    class Meta:
        model = Hospital
        fields = ["id", "name", "code", "level", "address", "phone"]


class PartnerDepartmentRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PartnerDoctorOut(serializers.ModelSerializer):
    departments = PartnerDepartmentRef(many=True, read_only=True)

    class Meta:
        model = Doctor
        fields = ["id", "hospital", "name", "title", "specialty", "registration_fee_fen", "departments"]


class PartnerSlotOut(serializers.Serializer):
    id = serializers.IntegerField()
    hospital = serializers.IntegerField(source="schedule.doctor.hospital_id")
    doctor = serializers.IntegerField(source="schedule.doctor_id")
    doctor_name = serializers.CharField(source="schedule.doctor.name")
    department = serializers.IntegerField(source="schedule.department_id")
    department_name = serializers.CharField(source="schedule.department.name")
    date = serializers.DateField(source="schedule.date")
    period = serializers.CharField(source="schedule.period")
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()
    fee_fen = serializers.IntegerField(source="schedule.fee_fen")
    places_left = serializers.IntegerField(help_text="合作平台渠道剩余号源")


class PartnerPatientOut(serializers.Serializer):
    name = serializers.CharField()
    id_number = serializers.CharField(source="masked_id_number")
    phone = serializers.CharField(source="masked_phone")


class PartnerAppointmentOut(serializers.ModelSerializer):
    patient = PartnerPatientOut(read_only=True)
    pay_deadline = serializers.DateTimeField(source="payment_deadline", allow_null=True)

    class Meta:
        model = Appointment
        fields = [
            "order_no",
            "status",
            "hospital",
            "department",
            "doctor",
            "slot",
            "visit_date",
            "queue_number",
            "estimated_at",
            "fee_fen",
            "pay_deadline",
            "paid_at",
            "cancel_reason",
            "cancelled_at",
            "patient",
            "created_at",
        ]


# ---------------------------------------------------------------------------------------------
# Reading


class DoctorFilter(django_filters.FilterSet):
    hospital = django_filters.NumberFilter(field_name="hospital_id")
    department = django_filters.NumberFilter(field_name="departments__id")

    class Meta:
        model = Doctor
        fields = ["hospital", "department"]


class SlotFilter(django_filters.FilterSet):
    hospital = django_filters.NumberFilter(field_name="schedule__doctor__hospital_id")
    doctor = django_filters.NumberFilter(field_name="schedule__doctor_id")
    department = django_filters.NumberFilter(field_name="schedule__department_id")
    date_from = django_filters.DateFilter(field_name="schedule__date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="schedule__date", lookup_expr="lte")

    class Meta:
        model = Slot
        fields = ["hospital", "doctor", "department", "date_from", "date_to"]


class AppointmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Appointment.Status.choices)

    class Meta:
        model = Appointment
        fields = ["status"]


@extend_schema(tags=[TAG], summary="已授权本平台的医院")
class HospitalListApi(PartnerView, ListAPIView):
    serializer_class = PartnerHospitalOut

    model = Hospital

    def scoped(self, partner):
        return selectors.hospitals_for(partner=partner)


@extend_schema(tags=[TAG], summary="医院详情（未授权的医院为 404）")
class HospitalDetailApi(PartnerView, RetrieveAPIView):
    serializer_class = PartnerHospitalOut

    model = Hospital

    def scoped(self, partner):
        return selectors.hospitals_for(partner=partner)


@extend_schema(tags=[TAG], summary="已授权医院的医生")
class DoctorListApi(PartnerView, ListAPIView):
    serializer_class = PartnerDoctorOut
    filterset_class = DoctorFilter

    model = Doctor

    def scoped(self, partner):
        return selectors.doctors_for(partner=partner).distinct()


@extend_schema(tags=[TAG], summary="医生详情（未授权医院的医生为 404）")
class DoctorDetailApi(PartnerView, RetrieveAPIView):
    serializer_class = PartnerDoctorOut

    model = Doctor

    def scoped(self, partner):
        return selectors.doctors_for(partner=partner)


@extend_schema(tags=[TAG], summary="合作平台渠道的可预约号源（跨已授权医院）")
class AvailabilityApi(PartnerView, ListAPIView):
    serializer_class = PartnerSlotOut
    filterset_class = SlotFilter

    model = Slot

    def scoped(self, partner):
        return selectors.partner_availability(partner=partner)


# ---------------------------------------------------------------------------------------------
# Booking on a patient's behalf


def _validation_error(exc: DjangoValidationError, *, prefix: str) -> exceptions.ValidationError:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return exceptions.ValidationError({prefix: fields})


class AppointmentListApi(PartnerView, ListAPIView):
    serializer_class = PartnerAppointmentOut
    filterset_class = AppointmentFilter

    model = Appointment

    def scoped(self, partner):
        return selectors.appointments_for(partner=partner)

    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), BookingRateThrottle()]
        return super().get_throttles()

    class PartnerBookInput(serializers.Serializer):
        class PartnerPatientInput(serializers.Serializer):
            name = serializers.CharField(max_length=50)
            id_number = serializers.CharField(max_length=32, help_text="居民身份证号码（GB 11643 校验）")
            phone = serializers.CharField(max_length=20)

        slot = serializers.IntegerField(min_value=1)
        patient = PartnerPatientInput()

    @extend_schema(tags=[TAG], summary="本平台的预约订单")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="为实名就诊人预约（合作平台渠道）",
        request=PartnerBookInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PartnerAppointmentOut},
    )
    def post(self, request):
        data = self.PartnerBookInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency_key(request)
        slot = scoped_get(selectors.slots_for(partner=request.partner), pk=data.validated_data["slot"])
        person = data.validated_data["patient"]
        try:
            patient = services.register_patient(partner=request.partner, **person)
        except DjangoValidationError as exc:
            raise _validation_error(exc, prefix="patient") from None
        appointment = services.book_for_patient(
            partner=request.partner, patient=patient, slot=slot, idempotency_key=key
        )
        appointment = selectors.appointments_for(partner=request.partner).get(pk=appointment.pk)
        return Response(PartnerAppointmentOut(appointment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=[TAG], summary="预约订单详情")
class AppointmentDetailApi(PartnerView, RetrieveAPIView):
    serializer_class = PartnerAppointmentOut
    lookup_field = "order_no"

    model = Appointment

    def scoped(self, partner):
        return selectors.appointments_for(partner=partner)


class AppointmentCancelApi(PartnerView, APIView):
    throttle_classes = [UserRateThrottle, BookingRateThrottle]

    class PartnerCancelInput(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG], summary="取消预约（退号）", request=PartnerCancelInput, responses={200: PartnerAppointmentOut}
    )
    def post(self, request, order_no):
        data = self.PartnerCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        appointments = selectors.appointments_for(partner=request.partner)
        appointment = scoped_get(appointments, order_no=order_no)
        services.cancel_for_patient(
            partner=request.partner, appointment=appointment, note=data.validated_data["reason"]
        )
        return Response(PartnerAppointmentOut(appointments.get(pk=appointment.pk)).data)


class PartnerPayOutput(serializers.Serializer):
    order_no = serializers.CharField()
    provider = serializers.CharField()
    redirect_url = serializers.CharField(allow_blank=True)
    code_url = serializers.CharField(allow_blank=True)


def _partner_payment(order_no: str):
    def shape(started, provider, method) -> dict:
        body = {"order_no": order_no, "provider": provider}
        return PartnerPayOutput({**body, "redirect_url": started.redirect_url, "code_url": started.code_url}).data

    return shape


class PartnerRescheduledAppointmentOut(RescheduledAppointmentOut):
    patient = PartnerPatientOut(read_only=True)
    payment = serializers.SerializerMethodField(
        help_text="传入 provider 且有待付金额时：如何支付，与「发起支付」的返回相同"
    )

    class Meta(RescheduledAppointmentOut.Meta):
        fields = [*RescheduledAppointmentOut.Meta.fields, "hospital", "doctor", "patient"]

    @extend_schema_field(PartnerPayOutput(allow_null=True))
    def get_payment(self, appointment) -> dict | None:
        return self.context.get("payment")


class AppointmentRescheduleApi(PartnerView, APIView):
    """改约 within the partner channel, to another time of the same doctor (booking's rules apply)."""

    throttle_classes = [UserRateThrottle, BookingRateThrottle]

    class PartnerRescheduleInput(serializers.Serializer):
        slot = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="新号源（同一医生）")
        provider = serializers.ChoiceField(
            choices=Provider.choices,
            required=False,
            help_text="有待付金额（amount_due_fen > 0，如改到更贵的号需补差价）时立即发起支付",
        )

    @extend_schema(
        tags=[TAG],
        summary="改约：改到同一医生的其他时段或日期（合作平台渠道）",
        description="已支付的预约改到挂号费更高的号时只需补差价：新号源先保留（状态 awaiting_difference），"
        "原预约在差价支付前保持有效；差价通过同一订单的「发起支付」支付（或在此传入 provider 立即发起）；"
        "超过 pay_deadline 未支付则释放保留的号源，原预约不变。",
        request=PartnerRescheduleInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PartnerRescheduledAppointmentOut},
    )
    def post(self, request, order_no):
        data = self.PartnerRescheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency_key(request)
        appointments = selectors.appointments_for(partner=request.partner)
        appointment = scoped_get(appointments, order_no=order_no)
        slot_id = data.validated_data["slot"]
        if not selectors.slots_at_granted_hospitals(partner=request.partner).filter(pk=slot_id).exists():
            raise errors.SlotNotGranted()
        moved = services.reschedule_for_patient(
            partner=request.partner, appointment=appointment, slot_id=slot_id, idempotency_key=key
        )
        moved = appointments.select_related("rescheduled_from", "moving_from").get(pk=moved.pk)
        provider = data.validated_data.get("provider")
        body = PartnerRescheduledAppointmentOut(moved).data
        body["payment"] = start_paying_due(
            user=request.partner.user,
            appointment=moved,
            provider=provider,
            method=None,
            pay=_partner_payment(body["order_no"]),
        )
        return Response(body, status=status.HTTP_201_CREATED)


class AppointmentPayApi(PartnerView, APIView):
    """The patient pays on the partner's page: Alipay's URL, WeChat's `code_url` (for a QR code) or the sandbox."""

    throttle_classes = [UserRateThrottle, BookingRateThrottle]

    class PartnerPayInput(serializers.Serializer):
        provider = serializers.ChoiceField(choices=Provider.choices)

    PartnerPayOutput = PartnerPayOutput

    @extend_schema(
        tags=[TAG],
        summary="发起支付",
        description="待支付的订单支付挂号费；已支付的订单有改约到更贵号源待补差价时，支付差价。",
        request=PartnerPayInput,
        responses={200: PartnerPayOutput},
    )
    def post(self, request, order_no):
        data = self.PartnerPayInput(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = scoped_get(selectors.appointments_for(partner=request.partner), order_no=order_no)
        provider = data.validated_data["provider"]
        started = services.pay_for_patient(
            partner=request.partner, appointment=appointment, provider=provider, method=DEFAULT_METHODS[provider]
        )
        body = {
            "order_no": order_no,
            "provider": provider,
            "redirect_url": started.redirect_url,
            "code_url": started.code_url,
        }
        return Response(self.PartnerPayOutput(body).data)
