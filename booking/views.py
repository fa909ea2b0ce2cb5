"""Patient pages: book, pay, my appointments (改约, cancel), lottery entries, the waitlist, penalties
and 到号提醒.

Thin like the API: every object is fetched through the account's own selectors (anyone else's
order number or id is a 404), every write is one booking service, and every error a user can
cause comes back as a message on the page, worded in `user_message` (the one place).
"""

import datetime

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from booking import alerts, eligibility, selectors, services
from booking.allocation import request_booking, withdraw_request
from booking.calendar import appointment_calendar
from booking.forms import BookForm, CancelForm, PayForm, RescheduleForm
from booking.models import Appointment
from booking.notices import where_to_go
from config.errors import DomainError
from config.money import fen_to_yuan
from hospital.channels import Channel
from hospital.models import Doctor
from hospital.selectors import rules_for
from notifications import services as notifications
from notifications.selectors import subscriptions_of
from payments.errors import PaymentExpired
from payments.models import DEFAULT_METHODS, Provider
from payments.providers import available_providers
from payments.selectors import latest_refund_of
from scheduling.models import Schedule

Status = Appointment.Status

# What to do next, after the error's own text (its `detail`), for the errors a patient meets most.
NEXT_STEP = {
    "slot_full": gettext_lazy("可以加入候补或订阅到号提醒，也可以选择其他时段。"),
    "not_released_yet": gettext_lazy("可以订阅到号提醒，放号时短信通知您。"),
    "limit_exceeded": gettext_lazy("请先完成或取消已有的预约。"),
    "duplicate_booking": gettext_lazy("可在“我的预约”中查看或改约。"),
    "patient_banned": gettext_lazy("详情见“失信记录”；如有疑问请联系医院。"),
    "real_name_required": gettext_lazy("请在就诊人资料中补充证件号码后再预约。"),
    "cancel_deadline_passed": gettext_lazy("如需帮助，请致电医院或到人工窗口办理。"),
    "reschedule_not_allowed": gettext_lazy("如需帮助，请致电医院或到人工窗口办理。"),
    "payment_expired": gettext_lazy("号源已释放。"),
}
# Errors whose own text is not for a patient's eyes, with the words to show instead.
INSTEAD = {
    "idempotency_key_reused": gettext_lazy("页面已过期，请返回重新选择后提交。"),
}


def user_message(error: DomainError) -> str:
    """The one place a domain error (booking, payments) becomes the words a patient reads."""
    text = str(INSTEAD.get(error.code) or error.detail)
    hint = str(NEXT_STEP.get(error.code, ""))
    return f"{text}{hint}" if hint else text


def _own_appointment(request, order_no: str) -> Appointment:
    return get_object_or_404(
        selectors.appointments_for_user(user=request.user).select_related("schedule", "rescheduled_from"),
        order_no=order_no,
    )


def _local(moment: datetime.datetime | None) -> str:
    return eligibility.local_text(moment) if moment else ""


# ---------------------------------------------------------------------------------------------
# Booking


def _booking_state(slot, *, now) -> str:
    schedule = slot.schedule
    if schedule.status != Schedule.Status.PUBLISHED or not slot.is_open:
        return "unavailable"
    if now < schedule.release_at:
        return "not_released"
    if schedule.uses_requests and schedule.drawn_at is None:
        return "request" if now < schedule.request_closes_at else "drawing"
    if slot.start_at <= now:
        return "unavailable"
    return "book" if slot.online_free > 0 else "full"


@login_required
@require_http_methods(["GET", "POST"])
def book(request, slot_id: int):
    slot = selectors.slot_for_booking(slot_id=slot_id)
    if slot is None:
        raise Http404
    schedule = slot.schedule
    now = timezone.now()
    form = BookForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            return _book(request, form.cleaned_data, slot=slot)
        except DomainError as error:
            messages.error(request, user_message(error))
            form = BookForm(user=request.user, initial={"patient": form.cleaned_data["patient"]})
    rules = eligibility.schedule_rules(schedule)
    context = {
        "slot": slot,
        "schedule": schedule,
        "doctor": schedule.doctor,
        "hospital": schedule.doctor.hospital,
        "rules": rules,
        "state": _booking_state(slot, now=now),
        "form": form,
        "has_patients": form.fields["patient"].queryset.exists(),
        "cancel_deadline": slot.start_at - datetime.timedelta(minutes=rules.cancel_deadline_minutes),
        "late_cancel_from": slot.start_at - datetime.timedelta(hours=rules.late_cancel_hours),
        "is_priority": schedule.allocation_policy == "priority",
        "new_patient_url": f"{reverse('patient_create')}?next={reverse('booking:book', args=[slot.pk])}",
    }
    return render(request, "booking/book.html", context)


def _book(request, data, *, slot):
    patient, action = data["patient"], data["action"] or BookForm.BOOK
    if action == BookForm.REQUEST:
        request_booking(user=request.user, patient=patient, schedule=slot.schedule, urgency=data["urgency"])
        messages.success(request, _("已报名，截止后统一抽签，结果会以短信通知，并显示在本页。"))
        return redirect("booking:requests")
    if action == BookForm.WAITLIST:
        entry = services.join_waitlist(user=request.user, patient=patient, schedule=slot.schedule)
        position = selectors.waitlist_position(entry=entry)
        messages.success(request, _("已加入候补，当前排在第%(n)d位。有人退号时按顺序为您保留号源。") % {"n": position})
        return redirect("booking:waitlist")
    appointment = services.book_slot(
        user=request.user, patient=patient, slot=slot, channel=Channel.ONLINE, idempotency_key=data["key"]
    )
    if appointment.status == Status.PENDING_PAYMENT:
        messages.success(request, _("号源已为您保留，请在支付时限内完成支付。"))
        return redirect("booking:pay", order_no=appointment.order_no)
    messages.success(request, _("预约成功。"))
    return redirect("booking:appointment", order_no=appointment.order_no)


# ---------------------------------------------------------------------------------------------
# Paying


def _provider_choices():
    found = set(available_providers())
    return [(value, label) for value, label in Provider.choices if value in found]


@login_required
@require_http_methods(["GET", "POST"])
def pay(request, order_no: str):
    appointment = _own_appointment(request, order_no)
    if appointment.status == Status.EXPIRED:
        messages.error(request, user_message(PaymentExpired()))
        return redirect("booking:appointment", order_no=order_no)
    if appointment.status not in (Status.PENDING_PAYMENT, Status.AWAITING_DIFFERENCE):
        return redirect("booking:appointment", order_no=order_no)
    # A dearer 改约 held until its difference is paid completes under the number of the order it
    # moves from, so the patient comes back to that order.
    back_to = appointment.moving_from.order_no if appointment.status == Status.AWAITING_DIFFERENCE else order_no
    due = {"appointment": appointment, "amount_due_fen": selectors.amount_due_fen(appointment)}
    form = PayForm(request.POST or None, providers=_provider_choices())
    if request.method == "POST" and form.is_valid():
        provider = form.cleaned_data["provider"]
        try:
            started = services.pay_appointment(
                user=request.user,
                appointment=appointment,
                provider=provider,
                method=DEFAULT_METHODS[provider],
                client_ip=request.META.get("REMOTE_ADDR", ""),
                return_url=request.build_absolute_uri(reverse("booking:appointment", args=[back_to])),
            )
        except DomainError as error:
            messages.error(request, user_message(error))
        else:
            if started.code_url:
                qr = segno.make(started.code_url, error="m").svg_inline(scale=4)
                return render(request, "booking/pay_qr.html", {**due, "qr": qr})
            return redirect(started.redirect_url)
    return render(request, "booking/pay.html", {**due, "form": form})


# ---------------------------------------------------------------------------------------------
# My appointments


@login_required
def appointment_list(request):
    now = timezone.now()
    context = {
        "upcoming": selectors.appointments_of(user=request.user, upcoming=True),
        "past": selectors.appointments_of(user=request.user, upcoming=False),
        "now": now,
    }
    return render(request, "booking/appointment_list.html", context)


@login_required
def appointment_detail(request, order_no: str):
    appointment = _own_appointment(request, order_no)
    now = timezone.now()
    snapshot = appointment.rules_snapshot or {}
    deadline = appointment.slot.start_at - datetime.timedelta(minutes=snapshot.get("cancel_deadline_minutes", 0))
    movable = appointment.status in services.RESCHEDULABLE and now <= deadline
    context = {
        "appointment": appointment,
        "where": where_to_go(hospital=appointment.hospital, department=appointment.department),
        "cancel_deadline": deadline,
        "can_change": movable,
        "refund": latest_refund_of(order_no=order_no) if appointment.refund_requested_at else None,
        "on_calendar": appointment.holds_place,
    }
    return render(request, "booking/appointment_detail.html", context)


@login_required
def appointment_calendar_file(request, order_no: str):
    appointment = _own_appointment(request, order_no)
    response = HttpResponse(appointment_calendar(appointment), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{appointment.order_no}.ics"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def reschedule(request, order_no: str):
    appointment = _own_appointment(request, order_no)
    form = RescheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            moved = services.reschedule_appointment(
                user=request.user, appointment=appointment, slot_id=form.cleaned_data["slot"]
            )
        except DomainError as error:
            messages.error(request, user_message(error))
        else:
            moved = _own_appointment(request, moved.order_no)
            due, refund = selectors.reschedule_outcome(moved)
            if moved.status == Status.AWAITING_DIFFERENCE:
                messages.success(
                    request,
                    _(
                        "新的号源已为您保留：%(time)s。请在%(deadline)s前支付差价¥%(amount)s完成改约；"
                        "逾期未付，新号源将释放，原预约保持不变。"
                    )
                    % {
                        "time": _local(moved.estimated_at),
                        "deadline": _local(moved.payment_deadline),
                        "amount": fen_to_yuan(due),
                    },
                )
                return redirect("booking:pay", order_no=moved.order_no)
            text = _("改约成功，新的就诊时间：%(time)s，就诊序号%(n)d。") % {
                "time": _local(moved.estimated_at),
                "n": moved.queue_number,
            }
            if refund:
                text += _("原订单将退款¥%(amount)s。") % {"amount": fen_to_yuan(refund)}
            if due:
                text += _("请支付新订单挂号费¥%(amount)s。") % {"amount": fen_to_yuan(due)}
            messages.success(request, text)
            if due:
                return redirect("booking:pay", order_no=moved.order_no)
            return redirect("booking:appointment", order_no=moved.order_no)
    now = timezone.now()
    rules = rules_for(
        hospital_id=appointment.hospital_id, department=appointment.department, doctor_id=appointment.doctor_id
    )
    context = {
        "appointment": appointment,
        "form": form,
        "schedules": selectors.reschedule_targets(appointment=appointment, now=now, days_ahead=rules.days_ahead),
    }
    return render(request, "booking/reschedule.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def cancel(request, order_no: str):
    appointment = _own_appointment(request, order_no)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_appointment(user=request.user, appointment=appointment, note=form.cleaned_data["reason"])
        except DomainError as error:
            messages.error(request, user_message(error))
        else:
            if appointment.paid_at:
                messages.success(request, _("已取消预约，挂号费将原路退回，退款进度见本页。"))
            else:
                messages.success(request, _("已取消预约。"))
            return redirect("booking:appointment", order_no=order_no)
    snapshot = appointment.rules_snapshot or {}
    start = appointment.slot.start_at
    context = {
        "appointment": appointment,
        "form": form,
        "cancel_deadline": start - datetime.timedelta(minutes=snapshot.get("cancel_deadline_minutes", 0)),
        "late_cancel_from": start - datetime.timedelta(hours=snapshot.get("late_cancel_hours", 0)),
        "now": timezone.now(),
    }
    return render(request, "booking/cancel.html", context)


# ---------------------------------------------------------------------------------------------
# Lottery entries, the waitlist, penalties


@login_required
def request_list(request):
    return render(request, "booking/request_list.html", {"entries": selectors.booking_requests_of(user=request.user)})


@login_required
@require_POST
def request_withdraw(request, request_id: int):
    entry = get_object_or_404(selectors.booking_requests_of(user=request.user), pk=request_id)
    try:
        withdraw_request(user=request.user, request=entry)
    except DomainError as error:
        messages.error(request, user_message(error))
    else:
        messages.success(request, _("已撤回报名。"))
    return redirect("booking:requests")


@login_required
def waitlist(request):
    return render(request, "booking/waitlist.html", {"entries": selectors.waitlist_of(user=request.user)})


@login_required
@require_POST
def waitlist_leave(request, entry_id: int):
    entry = get_object_or_404(selectors.waitlist_of(user=request.user), pk=entry_id)
    try:
        services.leave_waitlist(user=request.user, entry=entry)
    except DomainError as error:
        messages.error(request, user_message(error))
    else:
        messages.success(request, _("已退出候补。"))
    return redirect("booking:waitlist")


@login_required
def penalties(request):
    now = timezone.now()
    _mine, found, bans = selectors.penalties_and_bans_of(user=request.user, now=now)
    context = {"penalties": found, "bans": bans, "now": now}
    return render(request, "booking/penalties.html", context)


# ---------------------------------------------------------------------------------------------
# 到号提醒


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


@login_required
def alert_list(request):
    return render(request, "booking/alerts.html", {"subscriptions": subscriptions_of(user=request.user)})


@login_required
@require_POST
def doctor_alert(request, doctor_id: int):
    doctor = get_object_or_404(Doctor.objects.select_related("hospital"), pk=doctor_id, is_active=True)
    alerts.subscribe_to_doctor(user=request.user, doctor=doctor)
    messages.success(request, _("已订阅到号提醒：%(doctor)s医生有新号源开放时短信通知您。") % {"doctor": doctor.name})
    return _back(request, "booking:alerts")


@login_required
@require_POST
def schedule_alert(request, schedule_id: int):
    schedule = get_object_or_404(
        Schedule.objects.select_related("doctor__hospital"), pk=schedule_id, status=Schedule.Status.PUBLISHED
    )
    alerts.subscribe_to_session(user=request.user, schedule=schedule)
    messages.success(request, _("已订阅到号提醒：该场次有号源空出时短信通知您（每个场次只提醒一次）。"))
    return _back(request, "booking:alerts")


@login_required
@require_POST
def alert_stop(request, subscription_id: int):
    if not notifications.unsubscribe(user=request.user, subscription_id=subscription_id):
        raise Http404
    messages.success(request, _("已取消该到号提醒。"))
    return redirect("booking:alerts")
