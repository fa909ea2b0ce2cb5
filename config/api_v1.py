"""`/api/v1/`: the patient API. Each app keeps its own routes; this only gathers them."""

from django.urls import include, path

urlpatterns = [
    path("", include("hospital.api_urls")),
    path("", include("hospital.api_triage")),
    path("", include("scheduling.api_urls")),
    path("", include("accounts.api_urls")),
    path("", include("booking.api_urls")),
    path("", include("booking.api_reschedule")),
    path("", include("analytics.api_urls")),
]
