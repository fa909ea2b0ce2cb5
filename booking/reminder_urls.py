from django.urls import path

from booking import reminder_views

urlpatterns = [
    path("<str:token>/", reminder_views.reminder_page, name="reminder_page"),
]
