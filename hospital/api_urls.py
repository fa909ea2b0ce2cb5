"""This app's routes under /api/v1/ (gathered in config/api_v1.py)."""

from django.urls import path

from hospital import api

urlpatterns = [
    path("hospitals/", api.HospitalListApi.as_view(), name="api_hospitals"),
    path("hospitals/<int:hospital_id>/departments/", api.DepartmentTreeApi.as_view(), name="api_departments"),
    path("doctors/<int:doctor_id>/", api.DoctorDetailApi.as_view(), name="api_doctor"),
]
