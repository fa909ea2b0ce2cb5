"""`/api/partner/v1/` (included from config/urls.py)."""

from django.urls import path

from partners import api

urlpatterns = [
    path("hospitals/", api.HospitalListApi.as_view(), name="partner_hospitals"),
    path("hospitals/<int:pk>/", api.HospitalDetailApi.as_view(), name="partner_hospital"),
    path("doctors/", api.DoctorListApi.as_view(), name="partner_doctors"),
    path("doctors/<int:pk>/", api.DoctorDetailApi.as_view(), name="partner_doctor"),
    path("availability/", api.AvailabilityApi.as_view(), name="partner_availability"),
    path("appointments/", api.AppointmentListApi.as_view(), name="partner_appointments"),
    path("appointments/<str:order_no>/", api.AppointmentDetailApi.as_view(), name="partner_appointment"),
    path("appointments/<str:order_no>/cancel/", api.AppointmentCancelApi.as_view(), name="partner_appointment_cancel"),
    path(
        "appointments/<str:order_no>/reschedule/",
        api.AppointmentRescheduleApi.as_view(),
        name="partner_appointment_reschedule",
    ),
    path("appointments/<str:order_no>/pay/", api.AppointmentPayApi.as_view(), name="partner_appointment_pay"),
]
