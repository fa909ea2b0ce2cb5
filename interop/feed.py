"""The open availability feed (FHIR R4, SMART Scheduling Links): what it publishes, as FHIR resources.

Location = a hospital, Schedule = one doctor's session (出诊), Slot = one time segment with the
online places left. Only public availability: no patient data, no other channel's places.

Slot status (computed in SQL, so searches filter on it and the files show the same thing):
- `free`: bookable on this site now: the session is published and released (放号), the slot is
  open, starts in the future and has online places left (for lottery/priority sessions: the
  request window is open);
- `busy-unavailable`: the session is under 停诊, or the slot was closed;
- `busy`: everything else: full, already started, or not released yet. A place that is not yet
  released is not bookable now, so it is `busy`; the deep link shows when it opens.

`_since` is honest because `updated_at` on Schedule and Slot is stamped by a database trigger on
every UPDATE (scheduling migration 0003), including the booking core's F() counter updates. What
changes with the clock alone (a release moment, a slot's start, a request window closing, a day
entering the horizon) is matched by time too.
"""

import datetime
import hashlib
import json

from django.db.models import Case, CharField, Count, F, Max, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from hospital.models import Hospital
from scheduling.models import AllocationPolicy, Schedule, Slot

# How far ahead the feed reaches (days after today): past any hospital's booking window, so
# sessions generated ahead of their release are listed (as `busy`) before they open.
HORIZON_DAYS = 31
# `transactionTime` lies this far back, so a transaction that stamped rows before the feed was
# read but committed after is still inside the next `_since` (clients merge by id).
SINCE_OVERLAP = datetime.timedelta(minutes=2)
# The page a deep link opens. The patient booking pages come later: switch this name then.
BOOKING_PAGE_URL_NAME = "hospital_detail"

SLOT_CAPACITY_URL = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"
BOOKING_DEEP_LINK_URL = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
RESOURCE_TYPES = ("Location", "Schedule", "Slot")

FREE, BUSY, BUSY_UNAVAILABLE = "free", "busy", "busy-unavailable"
SLOT_STATUSES = (FREE, BUSY, BUSY_UNAVAILABLE)


def instant(value: datetime.datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def _horizon_end(now: datetime.datetime) -> datetime.date:
    return timezone.localdate(now) + datetime.timedelta(days=HORIZON_DAYS)


def feed_schedules(*, now: datetime.datetime) -> QuerySet[Schedule]:
    """The sessions the feed lists: published or suspended, not over, within the horizon, of open hospitals."""
    return Schedule.objects.filter(
        status__in=[Schedule.Status.PUBLISHED, Schedule.Status.SUSPENDED],
        end_at__gt=now,
        date__lte=_horizon_end(now),
        doctor__hospital__is_active=True,
    )


def _slot_status(now: datetime.datetime) -> Case:
    bookable_policy = Q(schedule__allocation_policy=AllocationPolicy.FCFS) | Q(
        schedule__request_closes_at__gt=now, schedule__drawn_at__isnull=True
    )
    free = (
        Q(
            schedule__status=Schedule.Status.PUBLISHED,
            schedule__release_at__lte=now,
            start_at__gt=now,
            online_booked__lt=F("online_capacity"),
        )
        & bookable_policy
    )
    return Case(
        When(Q(schedule__status=Schedule.Status.SUSPENDED) | Q(is_open=False), then=Value(BUSY_UNAVAILABLE)),
        When(free, then=Value(FREE)),
        default=Value(BUSY),
        output_field=CharField(),
    )


def feed_slots(*, now: datetime.datetime) -> QuerySet[Slot]:
    """The feed's slots, each annotated with `fhir_status`."""
    return Slot.objects.filter(schedule__in=feed_schedules(now=now)).annotate(fhir_status=_slot_status(now))


def schedules_changed_since(queryset: QuerySet, *, since: datetime.datetime, prefix: str = "") -> QuerySet:
    """Sessions touched after `since`, or that entered the horizon after it (a new day)."""
    return queryset.filter(Q(**{f"{prefix}updated_at__gt": since}) | Q(**{f"{prefix}date__gt": _horizon_end(since)}))


def slots_changed_since(queryset: QuerySet[Slot], *, since: datetime.datetime, now: datetime.datetime):
    """Slots whose row or session changed after `since`, or whose status may have moved with the clock."""
    passed = {"gt": since, "lte": now}
    clock = Q()
    for field in ("schedule__release_at", "schedule__request_closes_at", "start_at"):
        clock |= Q(**{f"{field}__gt": passed["gt"], f"{field}__lte": passed["lte"]})
    return queryset.filter(
        Q(updated_at__gt=since) | Q(schedule__updated_at__gt=since) | Q(schedule__date__gt=_horizon_end(since)) | clock
    )


# ---------------------------------------------------------------- versions (ETag inputs)


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:32]


def slots_version(*, now: datetime.datetime) -> str:
    """One aggregate query that changes whenever any slot of the feed would render differently."""
    state = feed_slots(now=now).aggregate(
        count=Count("id"),
        slot_touched=Max("updated_at"),
        schedule_touched=Max("schedule__updated_at"),
        released=Count("id", filter=Q(schedule__release_at__lte=now)),
        started=Count("id", filter=Q(start_at__lte=now)),
        requests_closed=Count("id", filter=Q(schedule__request_closes_at__lte=now)),
    )
    return _digest("Slot", state, timezone.localdate(now))


def schedules_version(*, now: datetime.datetime) -> str:
    """One aggregate query over the feed's sessions.

    A rename of a doctor, department or hospital alone does not change it: those show with the
    session's next change (and in searches at once).
    """
    state = feed_schedules(now=now).aggregate(count=Count("id"), touched=Max("updated_at"))
    return _digest("Schedule", state, timezone.localdate(now))


# ---------------------------------------------------------------- resources


def location_resource(hospital: Hospital) -> dict:
    resource = {"resourceType": "Location", "id": str(hospital.pk), "name": hospital.name}
    if hospital.phone:
        resource["telecom"] = [{"system": "phone", "value": hospital.phone}]
    if hospital.address:
        resource["address"] = {"text": hospital.address, "country": "CN"}
    return resource


def feed_locations() -> QuerySet[Hospital]:
    return Hospital.objects.filter(is_active=True).only("id", "name", "phone", "address").order_by("id")


SCHEDULE_FIELDS = (
    "id",
    "status",
    "start_at",
    "end_at",
    "updated_at",
    "doctor_id",
    "doctor__name",
    "doctor__hospital_id",
    "doctor__hospital__name",
    "department__name",
)


def schedule_rows(queryset: QuerySet[Schedule]):
    return queryset.order_by("date", "start_at", "id").values(*SCHEDULE_FIELDS)


def schedule_resource(row: dict) -> dict:
    department = {"text": row["department__name"]}
    return {
        "resourceType": "Schedule",
        "id": str(row["id"]),
        "meta": {"lastUpdated": instant(row["updated_at"])},
        "active": row["status"] == Schedule.Status.PUBLISHED,
        "serviceType": [department],
        "specialty": [department],
        "actor": [
            {"reference": f"Location/{row['doctor__hospital_id']}", "display": row["doctor__hospital__name"]},
            {"reference": f"Practitioner/{row['doctor_id']}", "display": row["doctor__name"]},
        ],
        "planningHorizon": {"start": instant(row["start_at"]), "end": instant(row["end_at"])},
    }


SLOT_FIELDS = (
    "id",
    "schedule_id",
    "start_at",
    "end_at",
    "updated_at",
    "online_capacity",
    "online_booked",
    "fhir_status",
    "schedule__updated_at",
    "schedule__doctor_id",
    "schedule__doctor__hospital__code",
)


def slot_rows(queryset: QuerySet[Slot]):
    return queryset.order_by("start_at", "id").values(*SLOT_FIELDS)


def booking_deep_link(*, base_url: str, hospital_code: str, doctor_id: int, slot_id: int) -> str:
    path = reverse(BOOKING_PAGE_URL_NAME, kwargs={"code": hospital_code})
    return f"{base_url}{path}?doctor={doctor_id}&slot={slot_id}#slot-{slot_id}"


def slot_resource(row: dict, *, base_url: str) -> dict:
    status = row["fhir_status"]
    places_left = 0 if status == BUSY_UNAVAILABLE else row["online_capacity"] - row["online_booked"]
    link = booking_deep_link(
        base_url=base_url,
        hospital_code=row["schedule__doctor__hospital__code"],
        doctor_id=row["schedule__doctor_id"],
        slot_id=row["id"],
    )
    return {
        "resourceType": "Slot",
        "id": str(row["id"]),
        "meta": {"lastUpdated": instant(max(row["updated_at"], row["schedule__updated_at"]))},
        "schedule": {"reference": f"Schedule/{row['schedule_id']}"},
        "status": status,
        "start": instant(row["start_at"]),
        "end": instant(row["end_at"]),
        "extension": [
            {"url": SLOT_CAPACITY_URL, "valueInteger": places_left},
            {"url": BOOKING_DEEP_LINK_URL, "valueUrl": link},
        ],
    }


def ndjson(resources) -> str:
    return "".join(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n" for resource in resources)
