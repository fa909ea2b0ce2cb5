"""This app's routes under /api/v1/ (gathered in config/api_v1.py)."""

from django.urls import path

from analytics import api

urlpatterns = [
    path("doctors/<int:doctor_id>/chance/", api.DoctorChanceApi.as_view(), name="api_doctor_chance"),
]
