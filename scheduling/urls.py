from django.urls import path

from scheduling import views

urlpatterns = [
    path("hospitals/<slug:code>/departments/<int:department_id>/", views.department_detail, name="department_detail"),
    path("doctors/<int:doctor_id>/", views.doctor_detail, name="doctor_detail"),
    path("search/", views.search, name="search"),
]
