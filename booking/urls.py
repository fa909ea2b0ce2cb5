"""The patient pages of booking (included at the site root)."""

from django.urls import path, re_path

from booking import views

app_name = "booking"

# Appointment.order_no: 24 digits; a row moved away by a same-fee 改约 keeps `<order_no>-<n>`.
ORDER = r"^appointments/(?P<order_no>[0-9]{24}(?:-[0-9]{1,3})?)/"

urlpatterns = [
    path("book/<int:slot_id>/", views.book, name="book"),
    path("appointments/", views.appointment_list, name="appointments"),
    re_path(ORDER + r"$", views.appointment_detail, name="appointment"),
    re_path(ORDER + r"pay/$", views.pay, name="pay"),
    re_path(ORDER + r"reschedule/$", views.reschedule, name="reschedule"),
    re_path(ORDER + r"cancel/$", views.cancel, name="cancel"),
    re_path(ORDER + r"calendar\.ics$", views.appointment_calendar_file, name="calendar"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<int:request_id>/withdraw/", views.request_withdraw, name="request_withdraw"),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/<int:entry_id>/leave/", views.waitlist_leave, name="waitlist_leave"),
    path("me/penalties/", views.penalties, name="penalties"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:subscription_id>/stop/", views.alert_stop, name="alert_stop"),
    path("doctors/<int:doctor_id>/alerts/", views.doctor_alert, name="doctor_alert"),
    path("schedules/<int:schedule_id>/alerts/", views.schedule_alert, name="schedule_alert"),
]
