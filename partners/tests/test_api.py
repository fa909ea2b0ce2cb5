"""The partner API: a key reaches only the hospitals that granted its partner, and books through
the booking engine on a real-name patient's behalf."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Patient
from accounts.tests.factories import PartnerFactory, PatientFactory, resident_id_number
from hospital.channels import Channel
from partners.models import HospitalGrant, PartnerAPIKey
from partners.tests.conftest import partner_hospital
from partners.tests.factories import HospitalGrantFactory, make_key

pytestmark = pytest.mark.django_db

BASE = "/api/partner/v1"


def person(order: int = 1, **overrides) -> dict:
    number = resident_id_number(birth_date=datetime.date(1985, 3, 4), gender="M", order=order)
    return {"name": "张三", "id_number": number, "phone": "13800138000", **overrides}


def book(client, slot, patient=None, **headers):
    return client.post(
        f"{BASE}/appointments/",
        {"slot": slot.pk, "patient": patient or person()},
        content_type="application/json",
        headers=headers,
    )


# ---------------------------------------------------------------------------------------------
# Keys


def test_no_key_is_a_401_naming_the_header(client, granted):
    response = client.get(f"{BASE}/hospitals/")
    assert response.status_code == 401
    assert response.json()["code"] == "missing_api_key"
    assert response["WWW-Authenticate"] == "X-Api-Key"


def test_a_wrong_key_is_a_401(client, api_key):
    prefix = api_key.partition(".")[0]
    for key in (f"{prefix}.wrong", "nonsense", "a.b.c"):
        response = client.get(f"{BASE}/hospitals/", headers={"X-Api-Key": key})
        assert response.status_code == 401, key
        assert response.json()["code"] == "invalid_api_key"


def test_the_authorization_header_works_too(client, api_key, granted):
    response = client.get(f"{BASE}/hospitals/", headers={"Authorization": f"Api-Key {api_key}"})
    assert response.status_code == 200
    assert [h["id"] for h in response.json()["results"]] == [granted["hospital"].pk]


def test_a_revoked_key_is_refused(api, api_key):
    PartnerAPIKey.objects.filter(prefix=api_key.partition(".")[0]).update(revoked=True)
    assert api.get(f"{BASE}/hospitals/").status_code == 401


def test_an_expired_key_or_an_inactive_partner_is_refused(api, api_key, partner):
    key = PartnerAPIKey.objects.get(prefix=api_key.partition(".")[0])
    key.expiry_date = timezone.now() - datetime.timedelta(minutes=1)
    key.save()
    assert api.get(f"{BASE}/hospitals/").status_code == 401
    key.expiry_date = None
    key.save()
    assert api.get(f"{BASE}/hospitals/").status_code == 200
    partner.is_active = False
    partner.save()
    assert api.get(f"{BASE}/hospitals/").status_code == 401


def test_only_the_hash_of_a_key_is_stored(api_key):
    stored = PartnerAPIKey.objects.get(prefix=api_key.partition(".")[0])
    assert api_key.partition(".")[2] not in stored.hashed_key


def test_a_patients_app_token_does_not_open_the_partner_api(client, granted):
    client.force_login(PatientFactory().user)
    assert client.get(f"{BASE}/hospitals/").status_code == 401


# ---------------------------------------------------------------------------------------------
# Scope: granted hospitals only


def test_lists_show_only_granted_hospitals(api, granted, ungranted):
    hospitals = api.get(f"{BASE}/hospitals/").json()["results"]
    assert [h["id"] for h in hospitals] == [granted["hospital"].pk]
    doctors = api.get(f"{BASE}/doctors/").json()["results"]
    assert [d["id"] for d in doctors] == [granted["doctor"].pk]
    slots = api.get(f"{BASE}/availability/").json()["results"]
    assert {s["hospital"] for s in slots} == {granted["hospital"].pk}
    assert all(s["places_left"] == 3 for s in slots) and len(slots) == 2


def test_an_ungranted_hospitals_objects_are_404(api, ungranted):
    assert api.get(f"{BASE}/hospitals/{ungranted['hospital'].pk}/").status_code == 404
    assert api.get(f"{BASE}/doctors/{ungranted['doctor'].pk}/").status_code == 404
    response = book(api, ungranted["slot"])
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Patient.objects.exists() or not Patient.objects.filter(name="张三").exists()


def test_a_revoked_grant_closes_the_hospital_at_once(api, partner, granted):
    appointment = book(api, granted["slot"]).json()
    HospitalGrant.objects.filter(partner=partner).update(revoked_at=timezone.now())
    assert api.get(f"{BASE}/hospitals/").json()["results"] == []
    assert api.get(f"{BASE}/hospitals/{granted['hospital'].pk}/").status_code == 404
    assert api.get(f"{BASE}/availability/").json()["results"] == []
    assert book(api, granted["slot"], person(2)).status_code == 404
    assert api.get(f"{BASE}/appointments/{appointment['order_no']}/").status_code == 404


def test_another_partners_appointments_are_404(api, granted):
    other = PartnerFactory()
    HospitalGrantFactory(partner=other, hospital=granted["hospital"])
    order_no = book(api, granted["slot"]).json()["order_no"]
    other_client = type(api)(headers={"X-Api-Key": make_key(other)[1]})
    assert other_client.get(f"{BASE}/appointments/{order_no}/").status_code == 404
    assert other_client.post(f"{BASE}/appointments/{order_no}/cancel/").status_code == 404
    assert other_client.get(f"{BASE}/appointments/").json()["results"] == []


def test_availability_filters_by_doctor_and_date(api, granted):
    doctor = granted["doctor"].pk
    day = granted["session"].date.isoformat()
    assert len(api.get(f"{BASE}/availability/", {"doctor": doctor, "date_from": day}).json()["results"]) == 2
    assert api.get(f"{BASE}/availability/", {"date_to": "2000-01-01"}).json()["results"] == []
    response = api.get(f"{BASE}/availability/", {"date_from": "not-a-date", "hospital": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# ---------------------------------------------------------------------------------------------
# Booking on a patient's behalf


def test_book_creates_the_real_name_patient_under_the_partner(api, partner, granted):
    response = book(api, granted["slot"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending_payment"
    assert body["patient"]["id_number"].startswith("110") and "*" in body["patient"]["id_number"]
    assert body["patient"]["phone"] == "138****8000"
    patient = Patient.objects.get()
    assert (patient.user, patient.birth_date, patient.gender) == (partner.user, datetime.date(1985, 3, 4), "M")
    appointment = patient.appointments.get()
    assert (appointment.channel, appointment.partner) == (Channel.PARTNER, partner)
    granted["slot"].refresh_from_db()
    assert (granted["slot"].partner_booked, granted["slot"].online_booked) == (1, 0)


def test_invalid_id_numbers_are_400_with_fields(api, granted):
    valid = person()["id_number"]
    wrong_check = valid[:17] + ("0" if valid[17] != "0" else "1")
    for bad in ("123", wrong_check, "99" + valid[2:]):
        response = book(api, granted["slot"], person(id_number=bad))
        assert response.status_code == 400, bad
        body = response.json()
        assert body["code"] == "invalid"
        assert "id_number" in body["fields"]["patient"], body
    response = book(api, granted["slot"], person(phone="12345"))
    assert response.status_code == 400
    assert "phone" in response.json()["fields"]["patient"]
    response = api.post(f"{BASE}/appointments/", {"slot": "x"}, content_type="application/json")
    assert set(response.json()["fields"]) == {"slot", "patient"}
    assert not Patient.objects.exists()


def test_a_second_booking_finds_the_same_patient(api, granted):
    book(api, granted["slot"])
    other_session_slot = partner_hospital_slot(granted)
    assert book(api, other_session_slot).status_code == 201
    assert Patient.objects.count() == 1


def partner_hospital_slot(granted):
    from hospital.tests.factories import DoctorFactory
    from scheduling.tests.factories import make_session

    doctor = DoctorFactory(hospital=granted["hospital"])
    return make_session(doctor=doctor, places=2).slots.first()


def test_the_same_person_through_two_partners_is_one_person(api, granted):
    """Limits and bans follow the ID hash across platforms: the same doctor the same day is a duplicate."""
    assert book(api, granted["slot"]).status_code == 201
    other = PartnerFactory()
    HospitalGrantFactory(partner=other, hospital=granted["hospital"])
    other_client = type(api)(headers={"X-Api-Key": make_key(other)[1]})
    second_slot = granted["session"].slots.order_by("pk").last()
    response = book(other_client, second_slot)
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_booking"


def test_the_same_person_with_their_own_account_is_one_person_too(api, granted):
    own = PatientFactory(id_number=person()["id_number"], birth_date=datetime.date(1985, 3, 4), gender="M")
    from booking.models import BookingBan

    BookingBan.objects.create(
        person_key=own.person_key,
        patient=own,
        hospital=granted["hospital"],
        starts_at=timezone.now() - datetime.timedelta(days=1),
        ends_at=timezone.now() + datetime.timedelta(days=30),
        reason="爽约",
    )
    response = book(api, granted["slot"])
    assert response.status_code == 403
    assert response.json()["code"] == "patient_banned"


def test_idempotency_key_replays_and_refuses_another_body(api, granted):
    first = book(api, granted["slot"], **{"Idempotency-Key": "k-1"})
    again = book(api, granted["slot"], **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["order_no"] == again.json()["order_no"]
    other = book(api, granted["session"].slots.order_by("pk").last(), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert book(api, granted["slot"], **{"Idempotency-Key": "x" * 65}).status_code == 400


def test_a_full_partner_channel_is_slot_full(api, granted):
    for order in range(3):
        assert book(api, granted["slot"], person(order + 10)).status_code == 201
    response = book(api, granted["slot"], person(20))
    assert response.status_code == 409
    assert response.json()["code"] == "slot_full"


def test_cancel_gives_the_place_back(api, granted):
    order_no = book(api, granted["slot"]).json()["order_no"]
    url = f"{BASE}/appointments/{order_no}/cancel/"
    response = api.post(url, {"reason": "行程变更"}, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    granted["slot"].refresh_from_db()
    assert granted["slot"].partner_booked == 0
    again = api.post(f"{BASE}/appointments/{order_no}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "cancel_not_allowed"


def test_pay_answers_where_the_patient_pays(api, granted, settings, client):
    settings.PAYMENTS_SANDBOX = True
    order_no = book(api, granted["slot"]).json()["order_no"]
    response = api.post(
        f"{BASE}/appointments/{order_no}/pay/", {"provider": "sandbox"}, content_type="application/json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["redirect_url"]
    settings.PAYMENTS_SANDBOX = False
    refused = api.post(f"{BASE}/appointments/{order_no}/pay/", {"provider": "sandbox"}, content_type="application/json")
    assert refused.status_code >= 400 and refused.status_code != 500
    assert api.post(f"{BASE}/appointments/{order_no}/pay/", {"provider": "x"}).status_code == 400


def test_appointments_list_filters_by_status(api, granted):
    order_no = book(api, granted["slot"]).json()["order_no"]
    pending = api.get(f"{BASE}/appointments/", {"status": "pending_payment"}).json()["results"]
    assert [a["order_no"] for a in pending] == [order_no]
    assert api.get(f"{BASE}/appointments/", {"status": "cancelled"}).json()["results"] == []
    assert api.get(f"{BASE}/appointments/", {"status": "nonsense"}).status_code == 400


# ---------------------------------------------------------------------------------------------
# Query counts: fixed whatever the data size


def grow(granted, partner, size):
    from hospital.tests.factories import DepartmentFactory, DoctorFactory
    from scheduling.tests.factories import make_session

    for _ in range(size):
        hospital = partner_hospital("扩展医院" + str(HospitalGrant.objects.count()))["hospital"]
        HospitalGrantFactory(partner=partner, hospital=hospital)
        doctor = DoctorFactory(hospital=granted["hospital"], departments=[DepartmentFactory(hospital=hospital)])
        make_session(doctor=doctor, places=2)


@pytest.mark.parametrize(
    "path", ["/hospitals/", "/doctors/", "/availability/", "/appointments/"], ids=lambda p: p.strip("/")
)
def test_list_queries_stay_fixed(api, granted, partner, path, django_assert_max_num_queries):
    for size in (1, 4):
        grow(granted, partner, size)
        for order in range(size):
            book(api, partner_hospital_slot(granted), person(100 + size * 10 + order))
        with django_assert_max_num_queries(6):
            response = api.get(BASE + path)
        assert response.status_code == 200
        assert response.json()["count"] >= size


def test_detail_queries_stay_fixed(api, granted, django_assert_max_num_queries):
    order_no = book(api, granted["slot"]).json()["order_no"]
    for url in (
        f"{BASE}/hospitals/{granted['hospital'].pk}/",
        f"{BASE}/doctors/{granted['doctor'].pk}/",
        f"{BASE}/appointments/{order_no}/",
    ):
        with django_assert_max_num_queries(4):
            assert api.get(url).status_code == 200
