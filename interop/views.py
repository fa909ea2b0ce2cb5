"""Public, read-only FHIR endpoints: the bulk-publish manifest, its NDJSON files, searches and reads.

Plain Django views: no authentication, no session, no DRF. Bad parameters answer a FHIR
OperationOutcome with 400, never a 500.
"""

import datetime
import functools
import hashlib
import re
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import parse_etags
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe

from interop import feed

FHIR_JSON = "application/fhir+json; charset=utf-8"
FHIR_NDJSON = "application/fhir+ndjson; charset=utf-8"
FILE_CACHE_SECONDS = 600
DEFAULT_COUNT, MAX_COUNT = 100, 500


class InvalidParameter(Exception):
    """A search or `_since` parameter the feed cannot read."""


def operation_outcome(message: str, *, status: int, code: str = "invalid") -> JsonResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    return JsonResponse(body, status=status, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})


def fhir_endpoint(view):
    @require_safe
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except InvalidParameter as exc:
            return operation_outcome(str(exc), status=400)

    return wrapper


def base_url(request) -> str:
    return (settings.SITE_URL or request.build_absolute_uri("/")).rstrip("/")


def fhir_json(body: dict, *, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})


# ---------------------------------------------------------------- parameters


DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PREFIX_RE = re.compile(r"^(eq|gt|ge|lt|le)?(\d.*)$")


def _datetime_param(name: str, raw: str) -> datetime.datetime:
    # An unencoded "+08:00" arrives as " 08:00".
    text = raw.strip().replace(" ", "+")
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise InvalidParameter(f"{name}: not a FHIR dateTime: {raw!r}")
    if timezone.is_naive(value):
        raise InvalidParameter(f"{name}: a time zone is required, e.g. 2026-01-01T08:00:00+08:00")
    return value


def since_param(request) -> datetime.datetime | None:
    raw = request.GET.get("_since")
    return None if raw is None else _datetime_param("_since", raw)


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def start_filters(values: list[str]) -> dict:
    """FHIR date search on `start` (eq, gt, ge, lt, le; a date or a dateTime), as ORM lookups."""
    lookups = {}
    for raw in values:
        match = PREFIX_RE.match(raw.strip())
        if not match:
            raise InvalidParameter(f"start: unsupported value {raw!r} (prefixes: eq, gt, ge, lt, le)")
        prefix, text = match.group(1) or "eq", match.group(2)
        try:
            if DATE_RE.match(text):
                day = datetime.date.fromisoformat(text)
                low, high = _local_midnight(day), _local_midnight(day + datetime.timedelta(days=1))
                bounds = {"eq": [("gte", low), ("lt", high)], "gt": [("gte", high)], "ge": [("gte", low)],
                          "lt": [("lt", low)], "le": [("lt", high)]}[prefix]  # fmt: skip
            else:
                moment = _datetime_param("start", text)
                bounds = [({"eq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[prefix], moment)]
        except (ValueError, OverflowError):
            raise InvalidParameter(f"start: not a FHIR date: {raw!r}") from None
        for lookup, value in bounds:
            key = f"start_at__{lookup}"
            if key in lookups and lookup != "exact":
                # Two bounds of one kind: keep the tighter one.
                tighter = max if lookup.startswith("gt") else min
                value = tighter(lookups[key], value)
            lookups[key] = value
    return lookups


def reference_ids(values: list[str], *, allowed: tuple[str, ...], name: str) -> dict[str, list[int]]:
    """`Schedule/12,13` or `12` (when one type is allowed) → {"Schedule": [12, 13]}."""
    found: dict[str, list[int]] = {}
    for raw in values:
        for part in raw.split(","):
            part = part.strip()
            kind, _, ident = part.rpartition("/")
            kind = kind or (allowed[0] if len(allowed) == 1 else "")
            if kind not in allowed or not ident.isdigit() or len(ident) > 18:
                expected = " or ".join(f"{allowed_kind}/<id>" for allowed_kind in allowed)
                raise InvalidParameter(f"{name}: expected {expected}, got {part!r}")
            found.setdefault(kind, []).append(int(ident))
    return found


def _int_param(request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidParameter(f"{name}: expected a whole number from {low} to {high}")
    return int(raw)


# ---------------------------------------------------------------- bulk publish


FILE_URL_NAMES = {"Location": "interop:location_file", "Schedule": "interop:schedule_file", "Slot": "interop:slot_file"}


@fhir_endpoint
def bulk_publish(request):
    since = since_param(request)
    now = timezone.now()
    base = base_url(request)
    query = f"?{urlencode({'_since': feed.instant(since)})}" if since else ""
    manifest = {
        "transactionTime": feed.instant(now - feed.SINCE_OVERLAP),
        "request": f"{base}{request.get_full_path()}",
        "output": [
            {"type": resource_type, "url": f"{base}{reverse(FILE_URL_NAMES[resource_type])}{query}"}
            for resource_type in feed.RESOURCE_TYPES
        ],
        "error": [],
    }
    return JsonResponse(manifest, json_dumps_params={"ensure_ascii": False})


def _ndjson_response(request, *, etag: str, render) -> HttpResponse:
    """304 when the client holds this version; else the file, rendered once per version and cached."""
    quoted = f'"{etag}"'
    held = parse_etags(request.headers.get("If-None-Match", ""))
    if quoted in held or "*" in held:
        response = HttpResponse(status=304)
    else:
        key = f"interop:file:{etag}"
        body = cache.get(key)
        if body is None:
            body = render()
            cache.set(key, body, FILE_CACHE_SECONDS)
        response = HttpResponse(body, content_type=FHIR_NDJSON)
    response["ETag"] = quoted
    response["Cache-Control"] = "public, no-cache"
    return response


def _file_etag(*parts) -> str:
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()[:32]


@fhir_endpoint
def location_file(request):
    """Hospitals carry no change stamp and are few: the file always lists them all (`_since` is read, not applied)."""
    since_param(request)
    base = base_url(request)
    body = feed.ndjson(feed.location_resource(hospital) for hospital in feed.feed_locations())
    return _ndjson_response(request, etag=_file_etag("Location", base, body), render=lambda: body)


@fhir_endpoint
def schedule_file(request):
    since = since_param(request)
    now = timezone.now()
    base = base_url(request)

    def render():
        queryset = feed.feed_schedules(now=now)
        if since is not None:
            queryset = feed.schedules_changed_since(queryset, since=since)
        return feed.ndjson(feed.schedule_resource(row) for row in feed.schedule_rows(queryset))

    etag = _file_etag(feed.schedules_version(now=now), base, since)
    return _ndjson_response(request, etag=etag, render=render)


@fhir_endpoint
def slot_file(request):
    since = since_param(request)
    now = timezone.now()
    base = base_url(request)

    def render():
        queryset = feed.feed_slots(now=now)
        if since is not None:
            queryset = feed.slots_changed_since(queryset, since=since, now=now)
        return feed.ndjson(feed.slot_resource(row, base_url=base) for row in feed.slot_rows(queryset))

    etag = _file_etag(feed.slots_version(now=now), base, since)
    return _ndjson_response(request, etag=etag, render=render)


# ---------------------------------------------------------------- searches and reads


def _searchset(request, *, queryset, rows, resource, resource_type: str) -> JsonResponse:
    count = _int_param(request, "_count", default=DEFAULT_COUNT, low=1, high=MAX_COUNT)
    offset = _int_param(request, "_offset", default=0, low=0, high=10**9)
    base = base_url(request)
    total = queryset.count()
    page = rows(queryset)[offset : offset + count]
    links = [{"relation": "self", "url": f"{base}{request.get_full_path()}"}]
    if offset + count < total:
        params = request.GET.copy()
        params["_offset"] = str(offset + count)
        links.append({"relation": "next", "url": f"{base}{request.path}?{params.urlencode()}"})
    entries = []
    for row in page:
        item = resource(row)
        entries.append({"fullUrl": f"{base}{reverse(f'interop:{resource_type.lower()}_read', args=[row['id']])}",
                        "resource": item, "search": {"mode": "match"}})  # fmt: skip
    return fhir_json({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries})


@fhir_endpoint
def slot_search(request):
    now = timezone.now()
    queryset = feed.feed_slots(now=now)
    if "schedule" in request.GET:
        ids = reference_ids(request.GET.getlist("schedule"), allowed=("Schedule",), name="schedule")
        queryset = queryset.filter(schedule_id__in=ids["Schedule"])
    if "start" in request.GET:
        queryset = queryset.filter(**start_filters(request.GET.getlist("start")))
    if "status" in request.GET:
        statuses = [part.strip() for raw in request.GET.getlist("status") for part in raw.split(",")]
        unknown = [status for status in statuses if status not in feed.SLOT_STATUSES]
        if unknown:
            raise InvalidParameter(f"status: expected {', '.join(feed.SLOT_STATUSES)}, got {unknown[0]!r}")
        queryset = queryset.filter(fhir_status__in=statuses)
    base = base_url(request)
    return _searchset(
        request,
        queryset=queryset,
        rows=feed.slot_rows,
        resource=lambda row: feed.slot_resource(row, base_url=base),
        resource_type="Slot",
    )


@fhir_endpoint
def schedule_search(request):
    queryset = feed.feed_schedules(now=timezone.now())
    if "actor" in request.GET:
        ids = reference_ids(request.GET.getlist("actor"), allowed=("Practitioner", "Location"), name="actor")
        # A comma means "or" in FHIR search: any of the doctors, or any session at one of the hospitals.
        queryset = queryset.filter(
            Q(doctor_id__in=ids.get("Practitioner", [])) | Q(doctor__hospital_id__in=ids.get("Location", []))
        )
    return _searchset(
        request, queryset=queryset, rows=feed.schedule_rows, resource=feed.schedule_resource, resource_type="Schedule"
    )


def _not_found(resource_type: str, pk: int) -> JsonResponse:
    return operation_outcome(f"{resource_type}/{pk} is not in the feed", status=404, code="not-found")


@fhir_endpoint
def location_read(request, pk: int):
    hospital = feed.feed_locations().filter(pk=pk).first()
    return fhir_json(feed.location_resource(hospital)) if hospital else _not_found("Location", pk)


@fhir_endpoint
def schedule_read(request, pk: int):
    row = feed.schedule_rows(feed.feed_schedules(now=timezone.now()).filter(pk=pk)).first()
    return fhir_json(feed.schedule_resource(row)) if row else _not_found("Schedule", pk)


@fhir_endpoint
def slot_read(request, pk: int):
    row = feed.slot_rows(feed.feed_slots(now=timezone.now()).filter(pk=pk)).first()
    return fhir_json(feed.slot_resource(row, base_url=base_url(request))) if row else _not_found("Slot", pk)
