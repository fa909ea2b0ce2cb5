"""The open availability feed: every resource valid FHIR R4 (fhir.resources R4B), honest statuses, cheap polling."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.schedule import Schedule as FhirSchedule
from fhir.resources.R4B.slot import Slot as FhirSlot

from accounts.tests.factories import PatientFactory
from booking.services import book_slot, suspend_schedule
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalFactory, HospitalStaffFactory
from interop import feed
from scheduling.models import Slot
from scheduling.tests.factories import make_session

SITE = "https://guahao.example.cn"
MODELS = {"Location": Location, "Schedule": FhirSchedule, "Slot": FhirSlot}
CAPACITY = feed.SLOT_CAPACITY_URL
DEEP_LINK = feed.BOOKING_DEEP_LINK_URL


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def doctor(db):
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital, online_share=60, partner_share=0, window_share=40, clinic_share=0)
    return doctor


@pytest.fixture
def session(doctor):
    return make_session(doctor=doctor, places=5, segments=2)


def file_url(resource_type):
    return reverse(f"interop:{resource_type.lower()}_file")


def read_ndjson(response, resource_type):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+ndjson")
    resources = [json.loads(line) for line in response.content.decode().splitlines()]
    for resource in resources:
        MODELS[resource_type].model_validate(resource)
        assert resource["resourceType"] == resource_type
    return resources


def extension(resource, url):
    return next(item for item in resource["extension"] if item["url"] == url)


def slots_by_id(client, **params):
    return {int(r["id"]): r for r in read_ndjson(client.get(file_url("Slot"), params), "Slot")}


def test_manifest_points_to_the_three_files_with_absolute_urls(client, db):
    response = client.get("/fhir/r4/$bulk-publish")

    assert response.status_code == 200
    manifest = response.json()
    assert manifest["request"] == f"{SITE}/fhir/r4/$bulk-publish"
    assert manifest["error"] == []
    assert [(item["type"], item["url"]) for item in manifest["output"]] == [
        (kind, f"{SITE}/fhir/r4/bulk/{kind}.ndjson") for kind in ("Location", "Schedule", "Slot")
    ]
    transaction_time = datetime.datetime.fromisoformat(manifest["transactionTime"])
    assert transaction_time.utcoffset() == datetime.timedelta(hours=8)
    assert transaction_time < timezone.now()


def test_manifest_passes_since_on_to_the_files(client, db):
    manifest = client.get("/fhir/r4/$bulk-publish", {"_since": "2026-01-01T08:00:00+08:00"}).json()

    assert all(item["url"].endswith("?_since=2026-01-01T08%3A00%3A00%2B08%3A00") for item in manifest["output"])


def test_location_schedule_and_slot_files_are_valid_fhir(client, session, doctor):
    hospital = doctor.hospital
    [location] = read_ndjson(client.get(file_url("Location")), "Location")
    assert location == {
        "resourceType": "Location",
        "id": str(hospital.pk),
        "name": hospital.name,
        "telecom": [{"system": "phone", "value": hospital.phone}],
        "address": {"text": hospital.address, "country": "CN"},
    }

    [schedule] = read_ndjson(client.get(file_url("Schedule")), "Schedule")
    assert schedule["id"] == str(session.pk)
    assert schedule["actor"] == [
        {"reference": f"Location/{hospital.pk}", "display": hospital.name},
        {"reference": f"Practitioner/{doctor.pk}", "display": doctor.name},
    ]
    assert schedule["specialty"] == schedule["serviceType"] == [{"text": session.department.name}]
    assert schedule["planningHorizon"] == {
        "start": timezone.localtime(session.start_at).isoformat(),
        "end": timezone.localtime(session.end_at).isoformat(),
    }

    slots = read_ndjson(client.get(file_url("Slot")), "Slot")
    assert len(slots) == 2
    first_slot = session.slots.order_by("start_at").first()
    first = slots[0]
    assert first["schedule"] == {"reference": f"Schedule/{session.pk}"}
    assert first["status"] == "free"
    assert first["start"].endswith("+08:00") and first["start"].startswith(session.date.isoformat() + "T08:00:00")
    assert extension(first, CAPACITY)["valueInteger"] == first_slot.online_capacity == 3
    assert extension(first, DEEP_LINK)["valueUrl"] == (
        f"{SITE}/hospitals/{hospital.code}/?doctor={doctor.pk}&slot={first_slot.pk}#slot-{first_slot.pk}"
    )


def test_places_left_counts_the_online_channel_only(client, session, doctor):
    slot = session.slots.order_by("start_at").first()
    front_desk = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.FRONT_DESK).user
    book_slot(user=front_desk, patient=PatientFactory(), slot=slot, channel=Channel.WINDOW)
    assert extension(slots_by_id(client)[slot.pk], CAPACITY)["valueInteger"] == 3

    patient = PatientFactory()
    book_slot(user=patient.user, patient=patient, slot=slot)
    assert extension(slots_by_id(client)[slot.pk], CAPACITY)["valueInteger"] == 2


def test_a_full_slot_is_busy(client, doctor):
    session = make_session(doctor=doctor, places=1)
    slot = session.slots.get()
    assert slot.online_capacity == 1
    patient = PatientFactory()
    book_slot(user=patient.user, patient=patient, slot=slot)

    resource = slots_by_id(client)[slot.pk]
    assert resource["status"] == "busy"
    assert extension(resource, CAPACITY)["valueInteger"] == 0


def test_a_suspended_session_is_busy_unavailable(client, session, doctor):
    scheduler = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user
    suspend_schedule(schedule=session, reason="医生外出会诊", by=scheduler)

    slots = slots_by_id(client)
    assert {r["status"] for r in slots.values()} == {"busy-unavailable"}
    assert {extension(r, CAPACITY)["valueInteger"] for r in slots.values()} == {0}
    [schedule] = read_ndjson(client.get(file_url("Schedule")), "Schedule")
    assert schedule["active"] is False


def test_a_session_not_yet_released_is_listed_busy(client, doctor):
    later = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=10))
    assert later.release_at > timezone.now()

    resource = slots_by_id(client)[later.slots.get().pk]
    assert resource["status"] == "busy"
    assert extension(resource, CAPACITY)["valueInteger"] == 3


def test_drafts_past_sessions_and_closed_hospitals_are_not_listed(client, doctor):
    make_session(doctor=doctor, status="draft")
    make_session(doctor=doctor, date=timezone.localdate() - datetime.timedelta(days=1))
    closed = DoctorFactory(hospital=HospitalFactory(is_active=False))
    make_session(doctor=closed)

    assert read_ndjson(client.get(file_url("Slot")), "Slot") == []
    assert read_ndjson(client.get(file_url("Schedule")), "Schedule") == []
    assert [r["id"] for r in read_ndjson(client.get(file_url("Location")), "Location")] == [str(doctor.hospital_id)]


# ---------------------------------------------------------------- caching


@pytest.mark.parametrize("resource_type", ["Location", "Schedule", "Slot"])
def test_a_file_answers_304_to_its_own_etag(client, session, resource_type):
    first = client.get(file_url(resource_type))
    etag = first["ETag"]
    assert etag.startswith('"')

    again = client.get(file_url(resource_type), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again["ETag"] == etag
    assert again.content == b""
    assert client.get(file_url(resource_type), headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_booking_made_by_counter_update_changes_the_slot_etag(client, session):
    etag = client.get(file_url("Slot"))["ETag"]
    patient = PatientFactory()
    book_slot(user=patient.user, patient=patient, slot=session.slots.order_by("start_at").first())

    response = client.get(file_url("Slot"), headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_the_counter_update_stamps_updated_at_through_the_trigger(session):
    slot = session.slots.order_by("start_at").first()
    before = slot.updated_at
    Slot.objects.filter(pk=slot.pk).update(online_booked=1, booked=1)

    slot.refresh_from_db()
    assert slot.updated_at > before


def test_since_lists_only_what_changed(client, session, doctor):
    other = make_session(doctor=DoctorFactory(hospital=doctor.hospital))
    since = client.get("/fhir/r4/$bulk-publish").json()["transactionTime"]
    Slot.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    type(session).objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    booked = session.slots.order_by("start_at").first()
    patient = PatientFactory()
    book_slot(user=patient.user, patient=patient, slot=booked)

    changed = slots_by_id(client, _since=since)
    assert booked.pk in changed
    assert not set(changed) & set(other.slots.values_list("pk", flat=True))
    # The booking also moved the session's stamp (its queue numbers): its slots are listed, nothing else.
    assert set(changed) <= set(session.slots.values_list("pk", flat=True))
    assert len(slots_by_id(client)) == 3


def test_since_includes_slots_released_meanwhile(client, doctor):
    session = make_session(doctor=doctor)
    old = timezone.now() - datetime.timedelta(days=1)
    type(session).objects.update(updated_at=old, release_at=timezone.now() - datetime.timedelta(minutes=5))
    Slot.objects.update(updated_at=old)

    since = (timezone.now() - datetime.timedelta(minutes=30)).isoformat()
    assert set(slots_by_id(client, _since=since)) == set(session.slots.values_list("pk", flat=True))
    since = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()
    assert slots_by_id(client, _since=since) == {}


def test_schedule_since_lists_only_changed_sessions(client, session, doctor):
    other = make_session(doctor=DoctorFactory(hospital=doctor.hospital))
    type(session).objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    type(session).objects.filter(pk=other.pk).update(suspended_reason="x")  # the trigger stamps it now

    since = (timezone.now() - datetime.timedelta(minutes=10)).isoformat()
    resources = read_ndjson(client.get(file_url("Schedule"), {"_since": since}), "Schedule")
    assert [r["id"] for r in resources] == [str(other.pk)]


def test_since_accepts_an_unencoded_plus(client, session):
    response = client.get(file_url("Slot") + "?_since=2026-01-01T08:00:00+08:00")
    assert response.status_code == 200


def _more_sessions(count):
    for _ in range(count):
        doctor = DoctorFactory()
        make_session(doctor=doctor, segments=3)


@pytest.mark.parametrize("size", [1, 8])
@pytest.mark.parametrize("resource_type", ["Location", "Schedule", "Slot"])
def test_file_query_counts_are_fixed(client, db, django_assert_max_num_queries, size, resource_type):
    _more_sessions(size)
    with django_assert_max_num_queries(2):
        etag = client.get(file_url(resource_type))["ETag"]
    with django_assert_max_num_queries(1):
        assert client.get(file_url(resource_type), headers={"If-None-Match": etag}).status_code == 304
    with django_assert_max_num_queries(1):
        assert client.get(file_url(resource_type)).status_code == 200  # rendered once, served from the cache


# ---------------------------------------------------------------- searches


def validate_bundle(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    for entry in body["entry"]:
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    return body


def test_slot_search_by_schedule_start_and_status(client, session, doctor):
    other = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=4))
    full = session.slots.order_by("start_at").last()
    Slot.objects.filter(pk=full.pk).update(online_booked=full.online_capacity, booked=full.online_capacity)
    start = timezone.localtime(session.start_at).isoformat()

    body = validate_bundle(
        client.get("/fhir/r4/Slot", {"schedule": f"Schedule/{session.pk}", "start": f"ge{start}", "status": "free"})
    )

    assert body["total"] == 1
    [entry] = body["entry"]
    assert entry["resource"]["status"] == "free"
    assert entry["fullUrl"] == f"{SITE}/fhir/r4/Slot/{entry['resource']['id']}"
    by_day = validate_bundle(client.get("/fhir/r4/Slot", {"start": other.date.isoformat()}))
    assert [e["resource"]["id"] for e in by_day["entry"]] == [str(other.slots.get().pk)]
    busy = validate_bundle(client.get("/fhir/r4/Slot", {"schedule": session.pk, "status": "busy"}))
    assert [e["resource"]["id"] for e in busy["entry"]] == [str(full.pk)]
    assert client.get(entry["fullUrl"].removeprefix(SITE)).json() == entry["resource"]


def test_slot_search_pages_with_a_next_link(client, doctor):
    make_session(doctor=doctor, segments=3)
    body = validate_bundle(client.get("/fhir/r4/Slot", {"_count": 2}))
    assert body["total"] == 3 and len(body["entry"]) == 2
    next_url = next(link["url"] for link in body["link"] if link["relation"] == "next")
    rest = validate_bundle(client.get(next_url.removeprefix(SITE)))
    assert len(rest["entry"]) == 1 and not any(link["relation"] == "next" for link in rest["link"])


def test_schedule_search_by_actor(client, session, doctor):
    other = make_session(doctor=DoctorFactory())

    mine = validate_bundle(client.get("/fhir/r4/Schedule", {"actor": f"Practitioner/{doctor.pk}"}))
    assert [e["resource"]["id"] for e in mine["entry"]] == [str(session.pk)]
    assert mine["total"] == 1
    at_other = validate_bundle(client.get("/fhir/r4/Schedule", {"actor": f"Location/{other.doctor.hospital_id}"}))
    assert [e["resource"]["id"] for e in at_other["entry"]] == [str(other.pk)]
    both = validate_bundle(
        client.get("/fhir/r4/Schedule", {"actor": f"Practitioner/{doctor.pk},Location/{other.doctor.hospital_id}"})
    )
    assert both["total"] == 2


@pytest.mark.parametrize("size", [1, 8])
@pytest.mark.parametrize("path", ["/fhir/r4/Slot", "/fhir/r4/Schedule"])
def test_search_query_counts_are_fixed(client, db, django_assert_max_num_queries, size, path):
    _more_sessions(size)
    with django_assert_max_num_queries(2):
        assert validate_bundle(client.get(path))["total"] >= size


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/fhir/r4/Slot", {"schedule": "abc"}),
        ("/fhir/r4/Slot", {"schedule": "Practitioner/1"}),
        ("/fhir/r4/Slot", {"schedule": "9" * 40}),
        ("/fhir/r4/Slot", {"start": "ge2026-13-45"}),
        ("/fhir/r4/Slot", {"start": "ap2026-01-01"}),
        ("/fhir/r4/Slot", {"start": "le9999-12-31"}),
        ("/fhir/r4/Slot", {"start": "ge2026-01-01T08:00:00"}),
        ("/fhir/r4/Slot", {"start": "tomorrow"}),
        ("/fhir/r4/Slot", {"status": "maybe"}),
        ("/fhir/r4/Slot", {"_count": "0"}),
        ("/fhir/r4/Slot", {"_count": "-1"}),
        ("/fhir/r4/Slot", {"_offset": "x"}),
        ("/fhir/r4/Schedule", {"actor": "12"}),
        ("/fhir/r4/Schedule", {"actor": "Patient/12"}),
        ("/fhir/r4/bulk/Slot.ndjson", {"_since": "yesterday"}),
        ("/fhir/r4/bulk/Schedule.ndjson", {"_since": "2026-01-01T08:00:00"}),
        ("/fhir/r4/bulk/Location.ndjson", {"_since": "2026-02-30T08:00:00+08:00"}),
        ("/fhir/r4/$bulk-publish", {"_since": "0"}),
    ],
)
def test_bad_parameters_answer_an_operation_outcome(client, db, path, params):
    response = client.get(path, params)

    assert response.status_code == 400
    body = response.json()
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["severity"] == "error"
    assert body["issue"][0]["code"] == "invalid"


def test_reading_what_is_not_in_the_feed_is_a_404_outcome(client, db):
    response = client.get("/fhir/r4/Slot/999999")
    assert response.status_code == 404
    OperationOutcome.model_validate(response.json())


def test_the_feed_is_read_only(client, db):
    assert client.post("/fhir/r4/Slot").status_code == 405
    assert client.post("/fhir/r4/$bulk-publish").status_code == 405
