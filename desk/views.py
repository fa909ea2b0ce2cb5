"""Staff screens: thin views over desk.selectors and the booking and desk services.

Every object is reached through the user's hospital (and, for a doctor's account, the doctor):
another hospital's appointment, slot or session answers 404.
"""

import datetime
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking import services as booking
from config.errors import DomainError
from desk import forms, selectors, services
from hospital.channels import Channel
from hospital.models import Department, Hospital, HospitalStaff
from scheduling.models import Schedule, Slot

Role = HospitalStaff.Role
WINDOW = ("superuser", Role.HOSPITAL_ADMIN, Role.FRONT_DESK)
DAY_SCREEN = ("superuser", Role.HOSPITAL_ADMIN, Role.FRONT_DESK, Role.SCHEDULER)
DOCTOR = (Role.DOCTOR,)
ADMINS = ("superuser", Role.HOSPITAL_ADMIN)
SESSION_HOSPITAL = "desk_hospital_id"


@dataclass(frozen=True)
class Desk:
    hospital: Hospital
    role: str
    doctor_id: int | None


def current_desk(request) -> Desk | None:
    """Which hospital the user works at and in what role; a superuser picks a hospital (?hospital=)."""
    user = request.user
    if user.is_superuser:
        chosen = request.GET.get("hospital") or request.session.get(SESSION_HOSPITAL)
        hospital = Hospital.objects.filter(pk=chosen).first() if str(chosen or "").isdigit() else None
        if hospital is None:
            return None
        request.session[SESSION_HOSPITAL] = hospital.pk
        return Desk(hospital=hospital, role="superuser", doctor_id=None)
    staff = HospitalStaff.objects.select_related("hospital").filter(user_id=user.pk).first()
    if staff is None:
        return None
    return Desk(hospital=staff.hospital, role=staff.role, doctor_id=staff.doctor_id)


def desk_view(roles):
    def decorate(view):
        @staff_member_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            desk = current_desk(request)
            if desk is None:
                if request.user.is_superuser:
                    return render(request, "desk/pick_hospital.html", {"hospitals": Hospital.objects.all()})
                raise PermissionDenied
            if desk.role not in roles:
                raise PermissionDenied
            request.desk = desk
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _context(request, **extra):
    from django.contrib import admin

    return {**admin.site.each_context(request), "desk": request.desk, **extra}


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _show_error(request, exc: DomainError) -> None:
    messages.error(request, exc.detail)


@desk_view(roles=(*DAY_SCREEN, *DOCTOR))
def home(request):
    if request.desk.role == Role.DOCTOR:
        return redirect("desk:doctor")
    if request.desk.role == Role.SCHEDULER:
        return redirect("desk:day")
    return redirect("desk:window")


# ---------------------------------------------------------------------------------------------
# 代挂号


@desk_view(roles=WINDOW)
def window(request):
    find = forms.FindPersonForm(request.GET or None)
    register = forms.RegisterPersonForm(request.POST or None)
    found = None
    if find.is_valid():
        found = [(p, selectors.patient_token(p)) for p in selectors.find_patients(query=find.cleaned_data["q"])]
    if request.method == "POST" and register.is_valid():
        try:
            patient = services.register_walk_in(
                by=request.user, hospital_id=request.desk.hospital.pk, **register.cleaned_data
            )
        except DomainError as exc:
            _show_error(request, exc)
        else:
            messages.success(request, _("已登记就诊人：%(name)s") % {"name": patient.name})
            return redirect("desk:window_person", token=selectors.patient_token(patient))
    return render(
        request,
        "desk/window.html",
        _context(request, title=_("窗口挂号"), find=find, register=register, found=found),
    )


@desk_view(roles=WINDOW)
def window_person(request, token):
    patient = selectors.patient_from_token(token)
    if patient is None:
        raise Http404
    hospital = request.desk.hospital
    today = timezone.localdate()
    day = _date_param(request, default=today)
    department_id = request.GET.get("department") or None
    department_id = int(department_id) if str(department_id or "").isdigit() else None
    if request.method == "POST":
        form = forms.BookSlotForm(request.POST)
        if form.is_valid():
            slot = get_object_or_404(Slot, pk=form.cleaned_data["slot"], schedule__doctor__hospital=hospital)
            try:
                appointment = services.book_at_window(by=request.user, patient=patient, slot=slot)
            except DomainError as exc:
                _show_error(request, exc)
            else:
                messages.success(request, _("挂号成功：订单号 %(order)s") % {"order": appointment.order_no})
                return redirect("desk:receipt", pk=appointment.pk)
    slots = selectors.bookable_slots(
        hospital_id=hospital.pk, date=day, channel=Channel.WINDOW, department_id=department_id
    )
    departments = Department.objects.filter(hospital=hospital, is_active=True)
    days = [today + datetime.timedelta(days=i) for i in range(8)]
    return render(
        request,
        "desk/window_person.html",
        _context(
            request,
            title=_("为 %(name)s 挂号") % {"name": patient.name},
            patient=patient,
            token=token,
            slots=slots,
            day=day,
            days=days,
            departments=departments,
            department_id=department_id,
        ),
    )


def _date_param(request, *, default: datetime.date) -> datetime.date:
    try:
        return datetime.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return default


@desk_view(roles=(*DAY_SCREEN, *DOCTOR))
def receipt(request, pk):
    appointment = _appointment(request, pk)
    return render(
        request,
        "desk/receipt.html",
        _context(
            request,
            title=_("挂号凭条"),
            appointment=appointment,
            room=appointment.department.visit_location() or appointment.department.name,
            pay_form=forms.DeskPaymentForm(),
            may_take_payment=request.desk.role in WINDOW,
        ),
    )


@require_POST
@desk_view(roles=WINDOW)
def take_payment(request, pk):
    appointment = _appointment(request, pk)
    form = forms.DeskPaymentForm(request.POST)
    if form.is_valid():
        try:
            booking.pay_at_desk(appointment=appointment, method=form.cleaned_data["method"], by=request.user)
        except DomainError as exc:
            _show_error(request, exc)
        else:
            messages.success(request, _("已收费：%(order)s") % {"order": appointment.order_no})
    return redirect(_back(request, reverse("desk:receipt", args=[appointment.pk])))


def _appointment(request, pk):
    """The appointment, if it is this hospital's (and this doctor's, for a doctor's account); else 404."""
    desk = request.desk
    doctor_id = desk.doctor_id if desk.role == Role.DOCTOR else None
    appointment = selectors.appointment_for_staff(hospital_id=desk.hospital.pk, pk=pk, doctor_id=doctor_id)
    if appointment is None:
        raise Http404
    return appointment


# ---------------------------------------------------------------------------------------------
# The day screen


@desk_view(roles=DAY_SCREEN)
def day(request):
    hospital = request.desk.hospital
    today = timezone.localdate()
    department_id = request.GET.get("department") or None
    doctor_id = request.GET.get("doctor") or None
    department_id = int(department_id) if str(department_id or "").isdigit() else None
    doctor_id = int(doctor_id) if str(doctor_id or "").isdigit() else None
    query = request.GET.get("q", "")
    rows = selectors.day_appointments(
        hospital_id=hospital.pk, date=today, department_id=department_id, doctor_id=doctor_id, query=query
    )
    slots = selectors.bookable_slots(
        hospital_id=hospital.pk, date=today, channel=Channel.WINDOW, department_id=department_id, doctor_id=doctor_id
    )
    return render(
        request,
        "desk/day.html",
        _context(
            request,
            title=_("今日就诊"),
            rows=rows,
            query=query,
            today=today,
            department_id=department_id,
            doctor_id=doctor_id,
            departments=Department.objects.filter(hospital=hospital, is_active=True),
            doctors=hospital.doctors.filter(is_active=True),
            slots=slots,
            add_form=forms.AddPlacesForm(),
            now=timezone.now(),
            grace_minutes=int(booking.NO_SHOW_GRACE.total_seconds() // 60),
        ),
    )


def _day_action(request, pk, service, success):
    appointment = _appointment(request, pk)
    try:
        service(appointment=appointment, by=request.user)
    except DomainError as exc:
        _show_error(request, exc)
        return redirect(_back(request, reverse("desk:day"))), None
    messages.success(request, success % {"order": appointment.order_no, "name": appointment.patient.name})
    return None, appointment


@require_POST
@desk_view(roles=(*DAY_SCREEN, *DOCTOR))
def check_in(request, pk):
    refused, appointment = _day_action(request, pk, booking.check_in, _("已签到：%(name)s"))
    if refused:
        return refused
    return redirect(reverse("desk:ticket", args=[appointment.pk]) + "?print=1")


@require_POST
@desk_view(roles=(*DAY_SCREEN, *DOCTOR))
def complete(request, pk):
    refused, _appointment_done = _day_action(request, pk, booking.complete_visit, _("已完成就诊：%(name)s"))
    return refused or redirect(_back(request, reverse("desk:day")))


@require_POST
@desk_view(roles=DAY_SCREEN)
def no_show(request, pk):
    refused, _appointment_done = _day_action(request, pk, booking.mark_no_show, _("已标记爽约：%(name)s"))
    return refused or redirect(_back(request, reverse("desk:day")))


@desk_view(roles=(*DAY_SCREEN, *DOCTOR))
def ticket(request, pk):
    appointment = _appointment(request, pk)
    return render(
        request,
        "desk/ticket.html",
        _context(
            request,
            title=_("就诊序号"),
            appointment=appointment,
            room=appointment.department.visit_location() or appointment.department.name,
            auto_print="print" in request.GET,
        ),
    )


@require_POST
@desk_view(roles=DAY_SCREEN)
def add_places(request, pk):
    slot = get_object_or_404(Slot, pk=pk, schedule__doctor__hospital=request.desk.hospital)
    form = forms.AddPlacesForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写加号数量和原因。"))
    else:
        data = form.cleaned_data
        try:
            booking.add_places(
                slot=slot, places=data["places"], channel=data["channel"], reason=data["reason"], by=request.user
            )
        except DomainError as exc:
            _show_error(request, exc)
        else:
            messages.success(request, _("加号成功：%(slot)s +%(n)d") % {"slot": slot, "n": data["places"]})
    return redirect(_back(request, reverse("desk:day")))


# ---------------------------------------------------------------------------------------------
# The doctor's screen


@desk_view(roles=DOCTOR)
def doctor(request):
    desk = request.desk
    today = timezone.localdate()
    rows = selectors.day_appointments(hospital_id=desk.hospital.pk, date=today, doctor_id=desk.doctor_id)
    return render(
        request,
        "desk/doctor.html",
        _context(
            request,
            title=_("我的今日出诊"),
            rows=rows,
            sessions=selectors.doctor_sessions(doctor_id=desk.doctor_id, date=today),
            upcoming=Schedule.objects.filter(doctor_id=desk.doctor_id, date__gte=today)
            .exclude(status=Schedule.Status.SUSPENDED)
            .select_related("department")
            .order_by("date", "start_at")[:14],
            suspension_form=forms.SuspensionRequestForm(),
        ),
    )


@desk_view(roles=DOCTOR)
def follow_up(request, pk):
    desk = request.desk
    seen = _appointment(request, pk)
    if request.method == "POST":
        form = forms.FollowUpForm(request.POST)
        if form.is_valid():
            slot = get_object_or_404(Slot, pk=form.cleaned_data["slot"], schedule__doctor__hospital=desk.hospital)
            try:
                appointment = services.book_follow_up(
                    by=request.user, seen=seen, slot=slot, note=form.cleaned_data["note"]
                )
            except DomainError as exc:
                _show_error(request, exc)
            else:
                messages.success(
                    request,
                    _("已为%(name)s预约复诊：%(slot)s，序号%(number)d")
                    % {"name": seen.patient.name, "slot": slot, "number": appointment.queue_number},
                )
                return redirect("desk:doctor")
    start = timezone.localdate() + datetime.timedelta(days=1)
    day = _date_param(request, default=start)
    own = request.GET.get("colleagues") != "1"
    slots = selectors.bookable_slots(
        hospital_id=desk.hospital.pk,
        date=day,
        channel=Channel.CLINIC,
        department_id=None if own else seen.department_id,
        doctor_id=desk.doctor_id if own else None,
    )
    return render(
        request,
        "desk/follow_up.html",
        _context(
            request,
            title=_("诊间预约：%(name)s") % {"name": seen.patient.name},
            seen=seen,
            slots=slots,
            day=day,
            days=[start + datetime.timedelta(days=i) for i in range(14)],
            own=own,
            form=forms.FollowUpForm(),
        ),
    )


@require_POST
@desk_view(roles=DOCTOR)
def request_suspension(request, pk):
    schedule = get_object_or_404(Schedule, pk=pk, doctor_id=request.desk.doctor_id)
    form = forms.SuspensionRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写停诊原因。"))
    else:
        try:
            services.request_suspension(by=request.user, schedule=schedule, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _show_error(request, exc)
        else:
            messages.success(request, _("停诊申请已提交，等待医院管理员或号源管理员确认。"))
    return redirect("desk:doctor")


# ---------------------------------------------------------------------------------------------
# Export


@desk_view(roles=ADMINS)
def export(request):
    form = forms.ExportForm(request.GET or None)
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="appointments-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        services.export_appointments(
            by=request.user, hospital_id=request.desk.hospital.pk, start=start, end=end, stream=response
        )
        return response
    return render(request, "desk/export.html", _context(request, title=_("导出预约"), form=form))
