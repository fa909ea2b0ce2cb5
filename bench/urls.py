"""The site's URLs plus the benchmark's two yardsticks (bench settings only, never deployed)."""

from django.http import HttpResponse
from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class BareApi(APIView):
    """An authenticated DRF view that returns a constant: same server, middleware, token
    authentication and throttles as the API, and nothing else: the framework's limit."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


def noop(request):
    """A plain Django view (the `django_floor` scenario: no DRF, no authentication, the same server
    and middleware), and what a wrk thread sends once its share of the rush is used up (not counted)."""
    response = HttpResponse(b"")
    response["X-Bench-Noop"] = "1"
    return response


def warm(request):
    """What a worker has done long before the release minute, done before each scenario: opened its
    thread's PostgreSQL connection, its Redis connection, and its connection to the broker (a
    winning booking queues its SMS). A cold worker would charge those to the rush's first answers."""
    from django.core.cache import cache
    from django.db import connection

    from config.celery import app

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    cache.get("bench:warm")
    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=1)
    return HttpResponse(b"")


urlpatterns = [
    path("bench/bare/", BareApi.as_view()),
    path("bench/noop/", noop),
    path("bench/warm/", warm),
    path("", include("config.urls")),
]
