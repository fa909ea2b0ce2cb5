"""/api/v1/ appointments, payment, lottery entries, the waitlist and penalties, as a patient sees them."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts.tests.factories import PatientFactory
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from booking.services import book_slot, cancel_appointment
from hospital.tests.factories import DoctorFactory
from scheduling.models import AllocationPolicy
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


@pytest.fixture
def api(client, user):
    client.force_login(user)
    return client


def post(client, url, body=None, **headers):
    return client.post(url, body or {}, content_type="application/json", **headers)


def book(api, slot, patient, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return post(api, URL, {"slot": slot.pk, "patient": patient.pk}, **headers)


# Booking --------------------------------------------------------------------------------------


def test_booking_answers_201_with_what_the_patient_needs(api, slot, patient):
    response = book(api, slot, patient)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"order_no", "status", "fee_fen", "queue_number", "estimated_at", "pay_deadline"}
    appointment = Appointment.objects.get(order_no=body["order_no"])
    assert body["status"] == "pending_payment" and body["fee_fen"] == appointment.fee_fen == 2000
    assert appointment.channel == "online" and appointment.booked_by == patient.user


def test_a_patient_or_slot_the_account_cannot_book_is_a_404(api, slot, patient, outsider):
    retired = PatientFactory(user=patient.user, is_active=False)
    for body in (
        {"slot": slot.pk, "patient": PatientFactory(user=outsider).pk},  # another account's patient
        {"slot": slot.pk, "patient": retired.pk},
        {"slot": slot.pk, "patient": 2**31 - 1},
        {"slot": 2**31 - 1, "patient": patient.pk},
    ):
        response = post(api, URL, body)
        assert response.status_code == 404, (body, response.content)
        assert response.json()["code"] == "not_found"
    assert not Appointment.objects.exists()
    slot.refresh_from_db()
    assert slot.booked == slot.online_booked == 0


def test_a_retry_with_the_same_key_gets_the_same_answer(api, slot, patient):
    first = book(api, slot, patient, key="retry-1")
    again = book(api, slot, patient, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Appointment.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422(api, session, slot, patient, user):
    other = PatientFactory(user=user)
    assert book(api, slot, patient, key="k").status_code == 201
    reused = book(api, slot, other, key="k")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("key", ["x" * 65, " padded", "中文"])
def test_a_malformed_key_is_a_400(api, slot, patient, key):
    response = post(api, URL, {"slot": slot.pk, "patient": patient.pk}, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_booking_for_another_accounts_patient_is_a_404(api, slot):
    stranger = PatientFactory()
    response = book(api, slot, stranger)
    assert response.status_code == 404
    assert not Appointment.objects.exists()


def test_a_full_slot_is_a_409_slot_full(api, doctor, rules, patient):
    slot = make_session(doctor=doctor, places=1).slots.get()
    taker = PatientFactory()
    book_slot(user=taker.user, patient=taker, slot=slot)
    response = book(api, slot, patient)
    assert response.status_code == 409
    assert response.json() == {"code": "slot_full", "detail": response.json()["detail"]}


def test_booking_twice_with_one_doctor_a_day_is_a_409(api, session, slot, patient):
    assert book(api, slot, patient).status_code == 201
    assert book(api, slot, patient).json()["code"] == "duplicate_booking"


@pytest.mark.parametrize("body", [{}, {"slot": "x", "patient": 1}, {"slot": 2**40, "patient": 1}, []])
def test_a_malformed_booking_is_a_400(api, body):
    response = post(api, URL, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_booking_is_throttled_tighter(api, doctor, rules, patient, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": None, "user": "100/min", "booking": "2/min"})
    slot = make_session(doctor=doctor, places=5).slots.get()
    assert book(api, slot, patient, key="a").status_code == 201
    assert book(api, slot, patient, key="a").status_code == 201
    throttled = book(api, slot, patient, key="a")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert api.get(URL).status_code == 200  # reading is not a booking


# Reading and cancelling -----------------------------------------------------------------------


def test_another_accounts_order_is_a_404(api, slot, outsider):
    stranger = PatientFactory(user=outsider)
    theirs = book_slot(user=outsider, patient=stranger, slot=slot)
    for response in (
        api.get(f"{URL}{theirs.order_no}/"),
        post(api, f"{URL}{theirs.order_no}/cancel/", {"reason": "x"}),
        post(api, f"{URL}{theirs.order_no}/pay/", {"provider": "sandbox"}),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert api.get(URL).json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.status == "pending_payment"


def test_the_list_filters_by_status_and_upcoming(api, doctor, rules, patient, user):
    kept = book_slot(user=user, patient=patient, slot=make_session(doctor=doctor, places=2).slots.get())
    later = make_session(doctor=doctor, places=2, date=timezone.localdate() + datetime.timedelta(days=4))
    gone = book_slot(user=user, patient=patient, slot=later.slots.get())
    cancel_appointment(user=user, appointment=gone)

    def orders(query):
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200
        return [row["order_no"] for row in response.json()["results"]]

    assert orders("status=cancelled") == [gone.order_no]
    assert orders("upcoming=true") == [kept.order_no]
    assert orders("upcoming=false") == [gone.order_no]
    assert api.get(f"{URL}?status=nope").status_code == 400


def test_the_list_and_detail_cost_fixed_queries(api, doctor, rules, patient, user, django_assert_max_num_queries):
    first = book_slot(user=user, patient=patient, slot=make_session(doctor=doctor, places=2).slots.get())
    with CaptureQueriesContext(connection) as one:
        api.get(URL)
    with CaptureQueriesContext(connection) as detail:
        api.get(f"{URL}{first.order_no}/")
    for _ in range(5):
        other = PatientFactory(user=user)
        slot = make_session(doctor=DoctorFactory(hospital=doctor.hospital), places=2).slots.get()
        book_slot(user=user, patient=other, slot=slot)
    with django_assert_max_num_queries(len(one)):
        assert api.get(URL).json()["count"] == 6
    with django_assert_max_num_queries(len(detail)):
        assert api.get(f"{URL}{first.order_no}/").status_code == 200


def test_cancelling_with_a_reason(api, slot, patient):
    order_no = book(api, slot, patient).json()["order_no"]
    response = post(api, f"{URL}{order_no}/cancel/", {"reason": "临时有事"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    appointment = Appointment.objects.get(order_no=order_no)
    assert appointment.cancel_note == "临时有事"
    again = post(api, f"{URL}{order_no}/cancel/", {"reason": "再次"})
    assert again.status_code == 409 and again.json()["code"] == "cancel_not_allowed"


# Paying ---------------------------------------------------------------------------------------


def test_paying_in_the_sandbox_gives_the_page_to_open(api, slot, patient, sandbox):
    order_no = book(api, slot, patient).json()["order_no"]
    response = post(api, f"{URL}{order_no}/pay/", {"provider": "sandbox"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert "/payments/sandbox/" in body["redirect_url"] and body["code_url"] == ""
    assert body["amount_fen"] == 2000


def test_paying_with_a_provider_not_configured_is_a_503(api, slot, patient):
    order_no = book(api, slot, patient).json()["order_no"]
    for provider in ("alipay", "wechat", "sandbox"):
        response = post(api, f"{URL}{order_no}/pay/", {"provider": provider})
        assert response.status_code == 503
        assert response.json()["code"] == "provider_unavailable"


def test_paying_with_wechat_gives_the_code_url(api, slot, patient, wechat):
    order_no = book(api, slot, patient).json()["order_no"]
    response = post(api, f"{URL}{order_no}/pay/", {"provider": "wechat"})
    assert response.status_code == 200, response.content
    assert response.json()["code_url"].startswith("weixin://")


@pytest.mark.parametrize("body", [{"provider": "paypal"}, {}, {"provider": "sandbox", "method": "native"}])
def test_a_bad_payment_request_is_a_4xx(api, slot, patient, sandbox, body):
    order_no = book(api, slot, patient).json()["order_no"]
    response = post(api, f"{URL}{order_no}/pay/", body)
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid", "unsupported_method")


def test_paying_a_cancelled_order_is_refused(api, slot, patient, sandbox):
    order_no = book(api, slot, patient).json()["order_no"]
    post(api, f"{URL}{order_no}/cancel/")
    response = post(api, f"{URL}{order_no}/pay/", {"provider": "sandbox"})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_status"


# Lotteries ------------------------------------------------------------------------------------


@pytest.fixture
def open_lottery(rules, doctor):
    lottery = make_session(doctor=doctor, places=2, policy=AllocationPolicy.LOTTERY)
    now = timezone.now()
    type(lottery).objects.filter(pk=lottery.pk).update(
        release_at=now - datetime.timedelta(hours=1), request_closes_at=now + datetime.timedelta(hours=1)
    )
    return lottery


def test_entering_a_lottery_and_seeing_it(api, open_lottery, patient):
    response = post(
        api, "/api/v1/booking-requests/", {"schedule": open_lottery.pk, "patient": patient.pk, "urgency": 2}
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending" and response.json()["urgency"] == 2
    listed = api.get("/api/v1/booking-requests/").json()["results"]
    assert [row["id"] for row in listed] == [response.json()["id"]]
    again = post(api, "/api/v1/booking-requests/", {"schedule": open_lottery.pk, "patient": patient.pk})
    assert again.status_code == 409 and again.json()["code"] == "duplicate_request"


def test_a_first_come_session_takes_no_entries(api, session, patient):
    response = post(api, "/api/v1/booking-requests/", {"schedule": session.pk, "patient": patient.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "request_window_closed"


def test_booking_a_lottery_slot_directly_is_refused(api, open_lottery, patient):
    response = book(api, open_lottery.slots.first(), patient)
    assert response.status_code == 409 and response.json()["code"] == "requests_only"


def test_another_accounts_entries_are_hidden(api, open_lottery, outsider):
    stranger = PatientFactory(user=outsider)
    entry = BookingRequest.objects.create(
        schedule=open_lottery, patient=stranger, person_key=stranger.person_key, booked_by=outsider
    )
    assert api.get("/api/v1/booking-requests/").json()["count"] == 0
    assert api.delete(f"/api/v1/booking-requests/{entry.pk}/").status_code == 404
    entry.refresh_from_db()
    assert entry.status == "pending"


def test_withdrawing_an_entry(api, open_lottery, patient):
    entry = post(api, "/api/v1/booking-requests/", {"schedule": open_lottery.pk, "patient": patient.pk}).json()
    response = api.delete(f"/api/v1/booking-requests/{entry['id']}/")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"


def test_entries_cost_fixed_queries(api, rules, doctor, user, django_assert_max_num_queries):
    def enter(days):
        lottery = make_session(
            doctor=doctor,
            places=1,
            policy=AllocationPolicy.LOTTERY,
            date=timezone.localdate() + datetime.timedelta(days),
        )
        patient = PatientFactory(user=user)
        BookingRequest.objects.create(schedule=lottery, patient=patient, person_key=patient.person_key, booked_by=user)

    enter(3)
    with CaptureQueriesContext(connection) as one:
        api.get("/api/v1/booking-requests/")
    for days in range(4, 8):
        enter(days)
    with django_assert_max_num_queries(len(one)):
        assert api.get("/api/v1/booking-requests/").json()["count"] == 5


# Waitlist -------------------------------------------------------------------------------------


@pytest.fixture
def full_session(rules, doctor):
    full = make_session(doctor=doctor, places=1)
    taker = PatientFactory()
    book_slot(user=taker.user, patient=taker, slot=full.slots.get())
    return full


def test_joining_the_waitlist_shows_the_position(api, full_session, patient, user):
    ahead = PatientFactory()
    WaitlistEntry.objects.create(
        schedule=full_session, patient=ahead, person_key=ahead.person_key, booked_by=ahead.user
    )
    response = post(api, "/api/v1/waitlist/", {"schedule": full_session.pk, "patient": patient.pk})
    assert response.status_code == 201, response.content
    assert response.json()["position"] == 2
    assert api.get(f"/api/v1/waitlist/{response.json()['id']}/").json()["position"] == 2
    left = api.delete(f"/api/v1/waitlist/{response.json()['id']}/")
    assert left.status_code == 200
    assert left.json()["status"] == "cancelled" and left.json()["position"] is None


def test_a_session_with_places_has_no_waitlist(api, session, patient):
    response = post(api, "/api/v1/waitlist/", {"schedule": session.pk, "patient": patient.pk})
    assert response.status_code == 409 and response.json()["code"] == "waitlist_unavailable"


def test_another_accounts_waitlist_entry_is_a_404(api, full_session, outsider):
    stranger = PatientFactory(user=outsider)
    entry = WaitlistEntry.objects.create(
        schedule=full_session, patient=stranger, person_key=stranger.person_key, booked_by=outsider
    )
    assert api.get(f"/api/v1/waitlist/{entry.pk}/").status_code == 404
    assert api.delete(f"/api/v1/waitlist/{entry.pk}/").status_code == 404
    assert api.get("/api/v1/waitlist/").json()["count"] == 0
    entry.refresh_from_db()
    assert entry.status == "waiting"


def test_the_waitlist_costs_fixed_queries(api, rules, doctor, user, django_assert_max_num_queries):
    def wait(days):
        schedule = make_session(doctor=doctor, places=1, date=timezone.localdate() + datetime.timedelta(days))
        patient = PatientFactory(user=user)
        WaitlistEntry.objects.create(schedule=schedule, patient=patient, person_key=patient.person_key, booked_by=user)

    wait(3)
    with CaptureQueriesContext(connection) as one:
        api.get("/api/v1/waitlist/")
    for days in range(4, 8):
        wait(days)
    with django_assert_max_num_queries(len(one)):
        rows = api.get("/api/v1/waitlist/").json()["results"]
    assert [row["position"] for row in rows] == [1] * 5


# Penalties ------------------------------------------------------------------------------------


def test_my_penalties_show_records_and_the_ban_with_its_end(api, slot, patient, user, outsider):
    appointment = book_slot(user=user, patient=patient, slot=slot)
    now = timezone.now()
    Penalty.objects.create(
        person_key=patient.person_key, patient=patient, hospital=appointment.hospital, appointment=appointment,
        kind=Penalty.Kind.NO_SHOW, occurred_at=now,
    )  # fmt: skip
    ends = now + datetime.timedelta(days=90)
    BookingBan.objects.create(
        person_key=patient.person_key, patient=patient, hospital=appointment.hospital, starts_at=now,
        ends_at=ends, reason="爽约3次",
    )  # fmt: skip
    body = api.get("/api/v1/me/penalties/").json()
    assert body["banned"] is True
    assert body["bans"][0]["reason"] == "爽约3次"
    assert datetime.datetime.fromisoformat(body["bans"][0]["ends_at"]) == ends
    assert body["penalties"][0]["kind"] == "no_show" and body["penalties"][0]["patient"] == patient.pk
    stranger = PatientFactory(user=outsider)
    client_of_stranger = api
    client_of_stranger.force_login(outsider)
    assert stranger.pk and client_of_stranger.get("/api/v1/me/penalties/").json() == {
        "banned": False,
        "bans": [],
        "penalties": [],
    }


def test_my_penalties_cost_fixed_queries(api, rules, doctor, patient, user, django_assert_max_num_queries):
    def record(days):
        slot = make_session(doctor=DoctorFactory(hospital=doctor.hospital), places=1).slots.get()
        person = PatientFactory(user=user)  # one person may book this hospital only thrice a day
        appointment = book_slot(user=user, patient=person, slot=slot)
        Penalty.objects.create(
            person_key=person.person_key, patient=person, hospital=doctor.hospital, appointment=appointment,
            kind=Penalty.Kind.LATE_CANCEL, occurred_at=timezone.now() - datetime.timedelta(days=days),
        )  # fmt: skip

    record(1)
    with CaptureQueriesContext(connection) as one:
        api.get("/api/v1/me/penalties/")
    for days in range(2, 6):
        record(days)
    with django_assert_max_num_queries(len(one)):
        assert len(api.get("/api/v1/me/penalties/").json()["penalties"]) == 5


@pytest.mark.parametrize("order_no", ["%00", "a%00b", "x" * 40, "订单"])
def test_an_order_number_that_cannot_exist_is_a_404(api, order_no):
    for response in (
        api.get(f"{URL}{order_no}/"),
        post(api, f"{URL}{order_no}/cancel/"),
        post(api, f"{URL}{order_no}/pay/", {"provider": "sandbox"}),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
