"""This app's routes under /api/v1/ (gathered in config/api_v1.py)."""

from django.urls import path

from scheduling import api

urlpatterns = [
    path("doctors/", api.DoctorListApi.as_view(), name="api_doctors"),
    path("doctors/<int:doctor_id>/schedules/", api.DoctorSchedulesApi.as_view(), name="api_doctor_schedules"),
]
