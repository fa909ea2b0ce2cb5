from django.urls import path

from accounts import views

urlpatterns = [
    path("me/", views.profile, name="profile"),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:patient_id>/delete/", views.patient_delete, name="patient_delete"),
    path("elderly/", views.toggle_elderly_mode, name="toggle_elderly_mode"),
]
