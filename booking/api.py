"""The patient's bookings: appointments, payment, lottery entries, the waitlist and penalties.

Every write calls one booking service; views only check the body's shape and scope objects to
the caller (another account's object is a 404, as if it did not exist).
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import patients_of
from booking import selectors, services
from booking.allocation import request_booking, withdraw_request
from booking.models import Appointment, BookingRequest, WaitlistEntry
from config.api import IDEMPOTENCY_PARAMETER, StandardPagination, get_or_404, idempotency_key
from config.throttling import BookingRateThrottle, SignedInRateThrottle
from hospital.channels import Channel
from payments.models import DEFAULT_METHODS, PROVIDER_METHODS, Provider
from scheduling.models import Schedule


class BookingThrottled:
    """The writes that take, move or pay for a place get the tighter `booking` limit instead of
    the general `user` one (one limit per request: each costs a cache round trip)."""

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method != "GET":
            throttles = [t for t in throttles if not isinstance(t, SignedInRateThrottle)] + [BookingRateThrottle()]
        return throttles


class Brief(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AppointmentOut(serializers.Serializer):
    order_no = serializers.CharField()
    status = serializers.ChoiceField(choices=Appointment.Status.choices)
    status_display = serializers.CharField(source="get_status_display")
    fee_fen = serializers.IntegerField()
    queue_number = serializers.IntegerField()
    estimated_at = serializers.DateTimeField()
    pay_deadline = serializers.DateTimeField(source="payment_deadline", allow_null=True)
    visit_date = serializers.DateField()
    slot = serializers.IntegerField(source="slot_id")
    slot_start_at = serializers.DateTimeField(source="slot.start_at")
    slot_end_at = serializers.DateTimeField(source="slot.end_at")
    patient = Brief()
    hospital = Brief()
    department = Brief()
    doctor = Brief()
    channel = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class AppointmentQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)
    upcoming = serializers.BooleanField(required=False, allow_null=True, default=None)


@extend_schema(tags=["appointments"])
class AppointmentListApi(BookingThrottled, APIView):
    pagination_class = StandardPagination

    class BookIn(serializers.Serializer):
        slot = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
        patient = serializers.IntegerField(min_value=1, max_value=2**31 - 1)

    @extend_schema(
        summary="我的预约",
        parameters=[
            OpenApiParameter("status", str, enum=Appointment.Status.values),
            OpenApiParameter("upcoming", OpenApiTypes.BOOL, description="true：待就诊；false：其余"),
        ],
        responses=AppointmentOut(many=True),
    )
    def get(self, request):
        query = AppointmentQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = selectors.appointments_of(user=request.user, **query.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(AppointmentOut(page, many=True).data)

    @extend_schema(
        summary="预约挂号（先到先得号源）",
        description=(
            "可带 `Idempotency-Key`（1–64 个可见字符）。同一账户用同一键重发同一请求，"
            "得到与首次相同的回答（201 与同一订单）；同一键换了请求体则返回 422 `idempotency_key_reused`。"
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=BookIn,
        responses={201: AppointmentOut},
    )
    def post(self, request):
        key = idempotency_key(request)
        data = self.BookIn(data=request.data)
        data.is_valid(raise_exception=True)
        # Ids, not objects: an attempt on a slot known to be sold out is refused before either is read.
        appointment = services.book_slot(
            user=request.user,
            patient=data.validated_data["patient"],
            slot=data.validated_data["slot"],
            channel=Channel.ONLINE,
            idempotency_key=key,
        )
        return Response(AppointmentOut(appointment).data, status=status.HTTP_201_CREATED)


def _own_appointment(request, order_no: str) -> Appointment:
    if not (order_no.isascii() and order_no.isalnum() and len(order_no) <= 32):
        raise NotFound()  # never an order number; some bytes (NUL) could not even be queried
    return get_or_404(selectors.appointments_of(user=request.user), order_no=order_no)


@extend_schema(tags=["appointments"])
class AppointmentDetailApi(APIView):
    @extend_schema(summary="预约详情", responses=AppointmentOut)
    def get(self, request, order_no: str):
        return Response(AppointmentOut(_own_appointment(request, order_no)).data)


@extend_schema(tags=["appointments"])
class AppointmentCancelApi(BookingThrottled, APIView):
    class CancelIn(serializers.Serializer):
        reason = serializers.CharField(max_length=200, allow_blank=True, default="")

    @extend_schema(summary="取消预约（退号）", request=CancelIn, responses=AppointmentOut)
    def post(self, request, order_no: str):
        appointment = _own_appointment(request, order_no)
        data = self.CancelIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.cancel_appointment(user=request.user, appointment=appointment, note=data.validated_data["reason"])
        return Response(AppointmentOut(_own_appointment(request, order_no)).data)


class PaymentOut(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Provider.choices)
    method = serializers.CharField()
    payment_no = serializers.CharField(source="payment.out_trade_no")
    amount_fen = serializers.IntegerField(source="payment.amount_fen")
    expires_at = serializers.DateTimeField(source="payment.expires_at")
    redirect_url = serializers.CharField(help_text=_("支付宝收银台或模拟支付页面的地址；微信扫码支付时为空"))
    code_url = serializers.CharField(help_text=_("微信支付二维码内容（code_url）；其他方式为空"))


@extend_schema(tags=["appointments"])
class AppointmentPayApi(BookingThrottled, APIView):
    class PayIn(serializers.Serializer):
        provider = serializers.ChoiceField(choices=Provider.choices)
        method = serializers.ChoiceField(
            choices=sorted({method for methods in PROVIDER_METHODS.values() for method in methods}),
            required=False,
            help_text=_("默认：支付宝 wap，微信 native（二维码），模拟支付 page"),
        )

    @extend_schema(
        summary="支付挂号费",
        description="支付方式未配置时返回 503 `provider_unavailable`。",
        request=PayIn,
        responses={
            200: PaymentOut,
            502: OpenApiResponse(description="error"),
            503: OpenApiResponse(description="error"),
        },
    )
    def post(self, request, order_no: str):
        appointment = _own_appointment(request, order_no)
        data = self.PayIn(data=request.data)
        data.is_valid(raise_exception=True)
        provider = data.validated_data["provider"]
        method = data.validated_data.get("method") or DEFAULT_METHODS[provider]
        started = services.pay_appointment(
            user=request.user,
            appointment=appointment,
            provider=provider,
            method=method,
            client_ip=request.META.get("REMOTE_ADDR", ""),
        )
        body = {"provider": provider, "method": method, "payment": started.payment}
        return Response(PaymentOut({**body, "redirect_url": started.redirect_url, "code_url": started.code_url}).data)


class ScheduleBrief(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    period = serializers.CharField()
    start_at = serializers.DateTimeField()
    hospital = Brief(source="doctor.hospital")
    department = Brief()
    doctor = Brief()


class BookingRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    schedule = ScheduleBrief()
    patient = Brief()
    urgency = serializers.ChoiceField(choices=BookingRequest.Urgency.choices)
    status = serializers.ChoiceField(choices=BookingRequest.Status.choices)
    status_display = serializers.CharField(source="get_status_display")
    draw_rank = serializers.IntegerField(allow_null=True)
    result_note = serializers.CharField()
    order_no = serializers.CharField(source="appointment.order_no", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


@extend_schema(tags=["lotteries"])
class BookingRequestListApi(BookingThrottled, APIView):
    pagination_class = StandardPagination

    class BookingRequestIn(serializers.Serializer):
        schedule = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
        patient = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
        urgency = serializers.ChoiceField(choices=BookingRequest.Urgency.choices, default=0)

    @extend_schema(summary="我的抽签/优先分配申请及结果", responses=BookingRequestOut(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.booking_requests_of(user=request.user), request, view=self)
        return paginator.get_paginated_response(BookingRequestOut(page, many=True).data)

    @extend_schema(summary="报名抽签/优先分配号源", request=BookingRequestIn, responses={201: BookingRequestOut})
    def post(self, request):
        data = self.BookingRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = get_or_404(patients_of(user=request.user), pk=data.validated_data["patient"])
        schedule = get_or_404(Schedule.objects.all(), pk=data.validated_data["schedule"])
        entry = request_booking(
            user=request.user, patient=patient, schedule=schedule, urgency=data.validated_data["urgency"]
        )
        entry = selectors.booking_requests_of(user=request.user).get(pk=entry.pk)
        return Response(BookingRequestOut(entry).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["lotteries"])
class BookingRequestDetailApi(BookingThrottled, APIView):
    @extend_schema(summary="申请详情", responses=BookingRequestOut)
    def get(self, request, request_id: int):
        return Response(
            BookingRequestOut(get_or_404(selectors.booking_requests_of(user=request.user), pk=request_id)).data
        )

    @extend_schema(summary="撤回申请（抽签前）", responses=BookingRequestOut)
    def delete(self, request, request_id: int):
        entry = get_or_404(selectors.booking_requests_of(user=request.user), pk=request_id)
        withdraw_request(user=request.user, request=entry)
        return Response(BookingRequestOut(selectors.booking_requests_of(user=request.user).get(pk=entry.pk)).data)


class WaitlistOut(serializers.Serializer):
    id = serializers.IntegerField()
    schedule = ScheduleBrief()
    patient = Brief()
    status = serializers.ChoiceField(choices=WaitlistEntry.Status.choices)
    status_display = serializers.CharField(source="get_status_display")
    position = serializers.IntegerField(allow_null=True, help_text=_("排在第几位（1为下一位）；不再候补时为空"))
    order_no = serializers.CharField(source="appointment.order_no", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    promoted_at = serializers.DateTimeField(allow_null=True)


@extend_schema(tags=["waitlist"])
class WaitlistListApi(BookingThrottled, APIView):
    pagination_class = StandardPagination

    class WaitlistIn(serializers.Serializer):
        schedule = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
        patient = serializers.IntegerField(min_value=1, max_value=2**31 - 1)

    @extend_schema(summary="我的候补", responses=WaitlistOut(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.waitlist_of(user=request.user), request, view=self)
        return paginator.get_paginated_response(WaitlistOut(page, many=True).data)

    @extend_schema(summary="加入候补（号源已满时）", request=WaitlistIn, responses={201: WaitlistOut})
    def post(self, request):
        data = self.WaitlistIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = get_or_404(patients_of(user=request.user), pk=data.validated_data["patient"])
        schedule = get_or_404(Schedule.objects.all(), pk=data.validated_data["schedule"])
        entry = services.join_waitlist(user=request.user, patient=patient, schedule=schedule)
        return Response(WaitlistOut(selectors.waitlist_of(user=request.user).get(pk=entry.pk)).data, status=201)


@extend_schema(tags=["waitlist"])
class WaitlistDetailApi(BookingThrottled, APIView):
    @extend_schema(summary="候补详情（含排位）", responses=WaitlistOut)
    def get(self, request, entry_id: int):
        return Response(WaitlistOut(get_or_404(selectors.waitlist_of(user=request.user), pk=entry_id)).data)

    @extend_schema(summary="退出候补", responses=WaitlistOut)
    def delete(self, request, entry_id: int):
        entry = get_or_404(selectors.waitlist_of(user=request.user), pk=entry_id)
        services.leave_waitlist(user=request.user, entry=entry)
        return Response(WaitlistOut(selectors.waitlist_of(user=request.user).get(pk=entry.pk)).data)


class PenaltyOut(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="my_patient.pk", help_text=_("本账户中对应的就诊人"))
    hospital = Brief()
    kind = serializers.CharField()
    kind_display = serializers.CharField(source="get_kind_display")
    occurred_at = serializers.DateTimeField()
    doctor = serializers.CharField(source="appointment.doctor.name")
    visit_date = serializers.DateField(source="appointment.visit_date")
    waived = serializers.BooleanField(source="is_waived")
    waive_reason = serializers.CharField()


class BanOut(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="my_patient.pk")
    hospital = Brief()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(help_text=_("限制预约至此时间"))
    reason = serializers.CharField()


class PenaltiesOut(serializers.Serializer):
    banned = serializers.BooleanField(help_text=_("是否有就诊人正被限制预约"))
    bans = BanOut(many=True)
    penalties = PenaltyOut(many=True)


@extend_schema(tags=["penalties"])
class MyPenaltiesApi(APIView):
    @extend_schema(summary="我的失信记录与预约限制", responses=PenaltiesOut)
    def get(self, request):
        now = timezone.now()
        mine, penalties, bans = selectors.penalties_and_bans_of(user=request.user, now=now)
        for row in [*penalties, *bans]:
            row.my_patient = mine[row.person_key]
            row.is_waived = getattr(row, "waived_at", None) is not None
        active = [ban for ban in bans if ban.starts_at <= now]
        return Response(PenaltiesOut({"banned": bool(active), "bans": bans, "penalties": penalties}).data)
