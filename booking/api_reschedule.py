"""改约 and the calendar file under /api/v1/appointments/{order_no}/ (gathered in config/api_v1.py).

Both act only on the caller's own appointments: any other order number is a 404.
"""

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import selectors
from booking.api import PaymentOut
from booking.calendar import appointment_calendar
from booking.models import Appointment
from booking.selectors import appointments_for_user
from booking.services import pay_appointment, reschedule_appointment
from config.api import IDEMPOTENCY_PARAMETER, idempotency_key
from config.throttling import AnonRateThrottle, BookingRateThrottle
from payments.models import DEFAULT_METHODS, PROVIDER_METHODS, Provider

# Appointment.order_no: 14 digits of local time and 10 random ones; a row moved away by a
# same-fee 改约 keeps its history under `<order_no>-<n>`.
ORDER_NO = r"(?P<order_no>[0-9]{24}(?:-[0-9]{1,3})?)"


def _own_appointment(request, order_no: str) -> Appointment:
    queryset = appointments_for_user(user=request.user).select_related("rescheduled_from")
    return get_object_or_404(queryset, order_no=order_no)


class RescheduleInput(serializers.Serializer):
    slot = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="the new slot (same doctor)")
    provider = serializers.ChoiceField(
        choices=Provider.choices,
        required=False,
        help_text="start paying what the move leaves due (amount_due_fen > 0) at once; the answer's `payment` "
        "is then what POST …/pay/ answers",
    )
    method = serializers.ChoiceField(
        choices=sorted({method for methods in PROVIDER_METHODS.values() for method in methods}),
        required=False,
        help_text="as for …/pay/ (default: Alipay wap, WeChat native, sandbox page)",
    )


def start_paying_due(*, user, appointment: Appointment, provider: str | None, method: str | None, pay):
    """After a move that leaves money due, start paying it if the client named a provider.

    `pay(started, provider, method)` shapes the answer as the door's own /pay/ endpoint does.
    """
    if not provider or selectors.amount_due_fen(appointment) == 0:
        return None
    method = method or DEFAULT_METHODS[provider]
    started = pay_appointment(user=user, appointment=appointment, provider=provider, method=method)
    return pay(started, provider, method)


class RescheduledAppointmentOut(serializers.ModelSerializer):
    """A moved order; or, for a paid order moving to a dearer place, the move held until its
    difference is paid (status `awaiting_difference`): the new place, the amount due and its
    deadline, under the number of the order it moves from (the old appointment stands till then,
    and the moved order keeps that number)."""

    order_no = serializers.SerializerMethodField(
        help_text="the order's number; for a move awaiting its difference, the order it moves from (pay there)"
    )
    pay_deadline = serializers.DateTimeField(source="payment_deadline", allow_null=True)
    slot = serializers.IntegerField(source="slot_id")
    rescheduled_from = serializers.SerializerMethodField()
    amount_due_fen = serializers.SerializerMethodField(
        help_text="still to pay for this order (POST …/pay/): the fee, or a dearer move's difference"
    )
    payment = serializers.SerializerMethodField(
        help_text="when `provider` was sent and money is due: how to pay it, as POST …/pay/ answers"
    )
    refund_fen = serializers.SerializerMethodField(
        help_text="refunded from the order this one replaced (all of it, or the fee difference)"
    )

    class Meta:
        model = Appointment
        fields = [
            "order_no",
            "status",
            "fee_fen",
            "queue_number",
            "estimated_at",
            "pay_deadline",
            "visit_date",
            "slot",
            "reschedule_count",
            "rescheduled_from",
            "amount_due_fen",
            "refund_fen",
            "payment",
        ]

    def get_order_no(self, appointment) -> str:
        if appointment.status == Appointment.Status.AWAITING_DIFFERENCE:
            return appointment.moving_from.order_no
        return appointment.order_no

    def get_rescheduled_from(self, appointment) -> str | None:
        previous = appointment.rescheduled_from or appointment.moving_from
        return previous.order_no if previous is not None else None

    def get_amount_due_fen(self, appointment) -> int:
        return selectors.amount_due_fen(appointment)

    @extend_schema_field(PaymentOut(allow_null=True))
    def get_payment(self, appointment) -> dict | None:
        return self.context.get("payment")

    def get_refund_fen(self, appointment) -> int:
        return selectors.reschedule_outcome(appointment)[1]


def _patient_payment(started, provider: str, method: str) -> dict:
    body = {"provider": provider, "method": method, "payment": started.payment}
    return PaymentOut({**body, "redirect_url": started.redirect_url, "code_url": started.code_url}).data


class RescheduleApi(APIView):
    throttle_classes = [AnonRateThrottle, BookingRateThrottle]  # as booking: the tighter limit alone

    @extend_schema(
        operation_id="appointments_reschedule",
        summary="改约: move an appointment to another slot of the same doctor",
        description="A paid order moving to a dearer place owes only the difference: the new place is held "
        "(status `awaiting_difference`) and the old appointment stands until the difference is paid through "
        "POST …/pay/ of the same order (or at once, with `provider`); unpaid by `pay_deadline`, the held place "
        "is given back and the old appointment stays as it was.",
        request=RescheduleInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: RescheduledAppointmentOut},
    )
    def post(self, request, order_no: str):
        data = RescheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency_key(request)
        appointment = _own_appointment(request, order_no)
        moved = reschedule_appointment(
            user=request.user, appointment=appointment, slot_id=data.validated_data["slot"], idempotency_key=key
        )
        moved = Appointment.objects.select_related("rescheduled_from", "moving_from").get(pk=moved.pk)
        payment = start_paying_due(
            user=request.user,
            appointment=moved,
            provider=data.validated_data.get("provider"),
            method=data.validated_data.get("method"),
            pay=_patient_payment,
        )
        body = RescheduledAppointmentOut(moved, context={"payment": payment}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ICalendarRenderer(BaseRenderer):
    """Lets a client ask for `text/calendar`; error bodies stay JSON."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data, ensure_ascii=False).encode()


class AppointmentCalendarApi(APIView):
    renderer_classes = [JSONRenderer, ICalendarRenderer]

    @extend_schema(
        operation_id="appointments_calendar",
        summary="The appointment as an iCalendar event (time, place, queue number, a reminder)",
        responses={(200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="an .ics file")},
    )
    def get(self, request, order_no: str):
        appointment = _own_appointment(request, order_no)
        response = HttpResponse(appointment_calendar(appointment), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="appointment-{appointment.order_no}.ics"'
        return response


urlpatterns = [
    re_path(rf"^appointments/{ORDER_NO}/reschedule/$", RescheduleApi.as_view(), name="appointment-reschedule"),
    re_path(rf"^appointments/{ORDER_NO}/calendar\.ics$", AppointmentCalendarApi.as_view(), name="appointment-calendar"),
]
