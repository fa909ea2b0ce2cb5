"""The two small pages behind a reminder SMS's signed link: confirm "我会按时就诊", or cancel.

No login: the signed token is the authority, for its one appointment only. Opening the link
only shows the visit (link scanners and previews must not act); each action is a POST from
that page. Cancelling goes through booking.services.cancel_appointment as the patient, so the
deadline of the appointment's rules applies.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking import reminders
from booking.errors import BookingError
from booking.models import Appointment
from booking.services import cancel_appointment


def _invalid(request):
    return render(request, "booking/reminder_invalid.html", status=404)


@require_http_methods(["GET", "POST"])
def reminder_page(request, token):
    try:
        reminder = reminders.reminder_for_token(token)
    except reminders.InvalidReminderLink:
        return _invalid(request)
    appointment = reminder.appointment
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm":
            if reminders.confirm_attendance(reminder=reminder):
                messages.success(request, _("已确认，请按时到院签到就诊。"))
            else:
                messages.error(request, _("该预约已不能确认就诊。"))
        elif action == "cancel":
            acting = appointment.patient.user
            if acting is None:
                messages.error(request, _("该预约由医院窗口代挂，请联系医院退号。"))
            else:
                try:
                    cancel_appointment(user=acting, appointment=appointment)
                    messages.success(request, _("已退号，号源已释放；如已支付，费用将原路退回。"))
                except BookingError as exc:
                    messages.error(request, exc.detail)
        return redirect("reminder_page", token=token)
    appointment.refresh_from_db(fields=["status"])
    reminder.refresh_from_db(fields=["attendance_confirmed_at"])
    to_come = appointment.status in (Appointment.Status.CONFIRMED, Appointment.Status.PENDING_PAYMENT)
    return render(
        request,
        "booking/reminder_page.html",
        {"reminder": reminder, "appointment": appointment, "to_come": to_come},
    )
