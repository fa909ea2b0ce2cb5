"""This app's routes under /api/v1/ (gathered in config/api_v1.py)."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("patients/", api.PatientListApi.as_view(), name="api_patients"),
    path("patients/<int:patient_id>/", api.PatientDetailApi.as_view(), name="api_patient"),
]
