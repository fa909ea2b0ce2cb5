"""This app's routes under /api/v1/ (gathered in config/api_v1.py)."""

from django.urls import path

from booking import api

urlpatterns = [
    path("appointments/", api.AppointmentListApi.as_view(), name="api_appointments"),
    path("appointments/<str:order_no>/", api.AppointmentDetailApi.as_view(), name="api_appointment"),
    path("appointments/<str:order_no>/cancel/", api.AppointmentCancelApi.as_view(), name="api_appointment_cancel"),
    path("appointments/<str:order_no>/pay/", api.AppointmentPayApi.as_view(), name="api_appointment_pay"),
    path("booking-requests/", api.BookingRequestListApi.as_view(), name="api_booking_requests"),
    path("booking-requests/<int:request_id>/", api.BookingRequestDetailApi.as_view(), name="api_booking_request"),
    path("waitlist/", api.WaitlistListApi.as_view(), name="api_waitlist"),
    path("waitlist/<int:entry_id>/", api.WaitlistDetailApi.as_view(), name="api_waitlist_entry"),
    path("me/penalties/", api.MyPenaltiesApi.as_view(), name="api_my_penalties"),
]
