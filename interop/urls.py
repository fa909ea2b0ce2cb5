"""`/fhir/r4/`: the open availability feed (SMART Scheduling Links on FHIR R4). Public, read-only."""

from django.urls import path

from interop import views

app_name = "interop"

urlpatterns = [
    path("$bulk-publish", views.bulk_publish, name="bulk_publish"),
    path("bulk/Location.ndjson", views.location_file, name="location_file"),
    path("bulk/Schedule.ndjson", views.schedule_file, name="schedule_file"),
    path("bulk/Slot.ndjson", views.slot_file, name="slot_file"),
    path("Slot", views.slot_search, name="slot_search"),
    path("Schedule", views.schedule_search, name="schedule_search"),
    path("Location/<int:pk>", views.location_read, name="location_read"),
    path("Schedule/<int:pk>", views.schedule_read, name="schedule_read"),
    path("Slot/<int:pk>", views.slot_read, name="slot_read"),
]
