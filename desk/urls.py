from django.urls import path

from desk import views

app_name = "desk"

urlpatterns = [
    path("", views.home, name="home"),
    path("window/", views.window, name="window"),
    path("window/<str:token>/", views.window_person, name="window_person"),
    path("appointments/<int:pk>/receipt/", views.receipt, name="receipt"),
    path("appointments/<int:pk>/ticket/", views.ticket, name="ticket"),
    path("appointments/<int:pk>/pay/", views.take_payment, name="pay"),
    path("appointments/<int:pk>/check-in/", views.check_in, name="check_in"),
    path("appointments/<int:pk>/complete/", views.complete, name="complete"),
    path("appointments/<int:pk>/no-show/", views.no_show, name="no_show"),
    path("appointments/<int:pk>/follow-up/", views.follow_up, name="follow_up"),
    path("day/", views.day, name="day"),
    path("slots/<int:pk>/add-places/", views.add_places, name="add_places"),
    path("doctor/", views.doctor, name="doctor"),
    path("sessions/<int:pk>/suspension-request/", views.request_suspension, name="request_suspension"),
    path("export/", views.export, name="export"),
]
