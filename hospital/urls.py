from django.urls import path

from hospital import views

urlpatterns = [
    path("", views.home, name="home"),
    path("hospitals/<slug:code>/", views.hospital_detail, name="hospital_detail"),
]
