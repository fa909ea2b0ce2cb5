"""Every API endpoint's query count is fixed whatever the data size: the endpoints no app test proves.

Each test measures one call on a small data set (cache emptied, so nothing it warmed helps the
second call), grows every kind of row the endpoint lists, nests or checks, and asserts that the
same call, or the same action on a like object, costs no more. The endpoints proven elsewhere:
hospitals, the department tree, doctors, a doctor's schedules (hospital/tests/test_api.py),
departments/search (hospital/tests/test_triage.py), patients (accounts/tests/test_api.py), the
appointment list and detail, booking-requests, waitlist and penalties lists
(booking/tests/test_api.py), booking (booking/tests/test_release_minute.py), the calendar file
(booking/tests/test_calendar.py), the partner lists (partners/tests/test_api.py), the FHIR files and
searches (interop/tests/test_feed.py). What runs after the commit (SMS, refunds, webhooks: Celery
tasks) leaves the request and is not counted.
"""

import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import PartnerFactory, PatientFactory, UserFactory, resident_id_number
from accounts.tests.test_api import app_token
from analytics.models import AttemptMinute
from booking.allocation import draw_schedule, request_booking
from booking.models import Appointment, BookingBan, BookingRequest, Penalty, WaitlistEntry
from booking.services import book_slot, cancel_appointment, pay_appointment, record_payment
from booking.tests.conftest import ALL_ONLINE
from hospital.tests.factories import BookingRulesFactory, DepartmentFactory, DoctorFactory
from partners import services as partner_services
from partners.tests.conftest import partner_hospital
from partners.tests.factories import HospitalGrantFactory, make_key
from partners.tests.test_api import BASE as PARTNER
from partners.tests.test_api import person
from payments.tests.conftest import sandbox  # noqa: F401
from scheduling.models import AllocationPolicy, Period, Schedule
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

# Every place online, and per-person limits wide enough for one account's long history.
ROOMY = {
    **ALL_ONLINE,
    "max_per_department_per_day": 50,
    "max_per_hospital_per_day": 50,
    "max_active": 50,
    "max_per_month": 200,
}


@pytest.fixture
def fixed_cost(django_assert_max_num_queries):
    """`call()` on the small data set, then `grow()`, then `again()` (or `call()` again) costs no more."""

    def measure(call, grow, again=None):
        cache.clear()
        with CaptureQueriesContext(connection) as small:
            first = call()
        grow()
        cache.clear()
        with django_assert_max_num_queries(len(small)):
            second = (again or call)()
        return first, second

    return measure


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


@pytest.fixture
def rules(doctor):
    return BookingRulesFactory(hospital=doctor.hospital, **ROOMY)


@pytest.fixture
def api(client, user):
    client.force_login(user)
    return client


def history(*, user, hospital, count: int) -> list[Appointment]:
    """`count` appointments of the account's people with other doctors of the hospital: in turn
    waiting for payment, paid, cancelled."""
    made = []
    for index in range(count):
        person_ = PatientFactory(user=user)
        slot = make_session(doctor=DoctorFactory(hospital=hospital), places=3, date=in_days(1 + index % 6)).slots.get()
        appointment = book_slot(user=user, patient=person_, slot=slot)
        if index % 3 == 1:
            record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=timezone.now())
        elif index % 3 == 2:
            cancel_appointment(user=user, appointment=appointment)
        appointment.refresh_from_db()
        made.append(appointment)
    return made


def strangers_on(slot, count: int) -> None:
    for _ in range(count):
        stranger = PatientFactory()
        book_slot(user=stranger.user, patient=stranger, slot=slot)


# ---------------------------------------------------------------------------------------------
# Browsing: a doctor and their chance


def test_a_doctor_costs_fixed_queries(client, fixed_cost):
    doctor = DoctorFactory()
    url = f"/api/v1/doctors/{doctor.pk}/"

    def grow():
        doctor.departments.add(*DepartmentFactory.create_batch(4, hospital=doctor.hospital))
        DoctorFactory.create_batch(3, hospital=doctor.hospital)
        make_session(doctor=doctor)

    first, response = fixed_cost(lambda: client.get(url), grow)
    assert first.status_code == response.status_code == 200
    assert len(response.json()["departments"]) == 5


def enter(schedule: Schedule, *, urgency: int = BookingRequest.Urgency.ROUTINE) -> BookingRequest:
    entrant = PatientFactory()
    return request_booking(
        user=entrant.user, patient=entrant, schedule=schedule, now=schedule.release_at, urgency=urgency
    )


def drawn_session(doctor, *, days: int, period: str, policy: str, entries: int) -> Schedule:
    session = make_session(doctor=doctor, places=1, date=in_days(days), period=period, policy=policy)
    for index in range(entries):
        enter(session, urgency=BookingRequest.Urgency.values[index % 4])
    draw_schedule(schedule=session, now=session.request_closes_at)
    return session


def open_lottery(doctor, *, days: int, period: str = Period.MORNING, entries: int = 0) -> Schedule:
    """A lottery session taking entries now (released an hour ago, closing in an hour)."""
    session = make_session(doctor=doctor, places=2, date=in_days(days), period=period, policy=AllocationPolicy.LOTTERY)
    now = timezone.now()
    Schedule.objects.filter(pk=session.pk).update(
        release_at=now - datetime.timedelta(hours=1), request_closes_at=now + datetime.timedelta(hours=1)
    )
    session.refresh_from_db()
    for _ in range(entries):
        enter(session)
    return session


def test_a_doctors_chance_costs_fixed_queries(client, rules, doctor, fixed_cost):
    drawn_session(doctor, days=1, period=Period.MORNING, policy=AllocationPolicy.LOTTERY, entries=2)
    open_lottery(doctor, days=1, period=Period.AFTERNOON, entries=1)
    url = reverse("api_doctor_chance", args=[doctor.pk])

    def grow():
        for days in (2, 3):
            drawn_session(doctor, days=days, period=Period.MORNING, policy=AllocationPolicy.LOTTERY, entries=3)
            drawn_session(doctor, days=days, period=Period.AFTERNOON, policy=AllocationPolicy.PRIORITY, entries=4)
            open_lottery(doctor, days=days, period=Period.EVENING, entries=2)
            fcfs = make_session(doctor=doctor, date=in_days(days + 2))
            AttemptMinute.objects.create(schedule=fcfs, minute=fcfs.release_at, attempts=5, won=2)

    first, response = fixed_cost(lambda: client.get(url), grow)
    assert first.status_code == response.status_code == 200
    body = response.json()
    assert len(body["open_lotteries"]) == 3
    assert body["by_policy"]["lottery"]["sessions"] == 3
    assert body["by_policy"]["priority"]["entries"] == 8
    assert body["by_policy"]["fcfs"]["attempts"] == 10


# ---------------------------------------------------------------------------------------------
# 就诊人


def test_a_patient_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    url = f"/api/v1/patients/{patient.pk}/"

    def grow():
        PatientFactory.create_batch(4, user=user)
        history(user=user, hospital=doctor.hospital, count=4)

    first, response = fixed_cost(lambda: api.get(url), grow)
    assert first.status_code == response.status_code == 200
    assert response.json()["id"] == patient.pk


def test_changing_a_patient_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    url = f"/api/v1/patients/{patient.pk}/"

    def grow():
        PatientFactory.create_batch(4, user=user)
        history(user=user, hospital=doctor.hospital, count=4)

    first, response = fixed_cost(
        lambda: api.patch(url, {"phone": "13900001111"}, content_type="application/json"),
        grow,
        lambda: api.patch(url, {"phone": "13900002222"}, content_type="application/json"),
    )
    assert first.status_code == response.status_code == 200


def test_adding_a_patient_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    def add(order):
        number = resident_id_number(birth_date=datetime.date(2015, 6, 1), gender="M", order=order)
        body = {"name": "张小明", "gender": "M", "birth_date": "2015-06-01", "relation": "child", "id_number": number}
        return post(api, "/api/v1/patients/", body)

    def grow():
        PatientFactory.create_batch(4, user=user)
        history(user=user, hospital=doctor.hospital, count=4)

    first, response = fixed_cost(lambda: add(1), grow, lambda: add(2))
    assert first.status_code == response.status_code == 201


def used(person_, *, hospital, count: int) -> None:
    """`count` finished records of each kind on a 就诊人: cancelled appointments, withdrawn lottery
    entries and left waitlist places (history, nothing under way)."""
    for index in range(count):
        session = make_session(doctor=DoctorFactory(hospital=hospital), places=3, date=in_days(1 + index % 6))
        appointment = book_slot(user=person_.user, patient=person_, slot=session.slots.get())
        cancel_appointment(user=person_.user, appointment=appointment)
        common = {"schedule": session, "patient": person_, "person_key": person_.person_key, "booked_by": person_.user}
        BookingRequest.objects.create(status=BookingRequest.Status.WITHDRAWN, **common)
        WaitlistEntry.objects.create(status=WaitlistEntry.Status.CANCELLED, **common)


def test_removing_a_patient_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    first_person, second_person = PatientFactory(user=user), PatientFactory(user=user)
    used(first_person, hospital=doctor.hospital, count=1)

    def grow():
        used(second_person, hospital=doctor.hospital, count=5)
        history(user=user, hospital=doctor.hospital, count=3)

    first, response = fixed_cost(
        lambda: api.delete(f"/api/v1/patients/{first_person.pk}/"),
        grow,
        lambda: api.delete(f"/api/v1/patients/{second_person.pk}/"),
    )
    assert first.status_code == response.status_code == 204
    second_person.refresh_from_db()
    assert not second_person.is_active  # kept for its history, only deactivated


# ---------------------------------------------------------------------------------------------
# Appointments: cancel, pay, 改约


def held_with_a_line(*, doctor, user, days: int, waiting: int) -> Appointment:
    """The account's paid place, the only one of its session, with `waiting` people in the line."""
    session = make_session(doctor=doctor, places=1, date=in_days(days))
    appointment = book_slot(user=user, patient=PatientFactory(user=user), slot=session.slots.get())
    record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=timezone.now())
    for _ in range(waiting):
        waiter = PatientFactory()
        WaitlistEntry.objects.create(
            schedule=session, patient=waiter, person_key=waiter.person_key, booked_by=waiter.user
        )
    return appointment


def test_cancelling_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    """The freed place goes to the first in line, and the second is tried, however long the line."""
    mine = held_with_a_line(doctor=doctor, user=user, days=3, waiting=2)
    later = {}

    def grow():
        history(user=user, hospital=doctor.hospital, count=4)
        other = DoctorFactory(hospital=doctor.hospital)
        for days in (1, 2):
            strangers_on(make_session(doctor=other, places=3, date=in_days(days)).slots.get(), 2)
        later["appointment"] = held_with_a_line(doctor=other, user=user, days=4, waiting=6)

    def cancel(appointment):
        return post(api, f"/api/v1/appointments/{appointment.order_no}/cancel/", {"reason": "临时有事"})

    first, response = fixed_cost(lambda: cancel(mine), grow, lambda: cancel(later["appointment"]))
    assert first.status_code == response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert WaitlistEntry.objects.filter(status=WaitlistEntry.Status.PROMOTED).count() == 2


@pytest.mark.usefixtures("sandbox")
def test_paying_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    mine = book_slot(user=user, patient=patient, slot=make_session(doctor=doctor, date=in_days(3)).slots.get())
    later = {}

    def grow():
        for appointment in history(user=user, hospital=doctor.hospital, count=4):
            if appointment.status == Appointment.Status.PENDING_PAYMENT:
                pay_appointment(user=user, appointment=appointment, provider="sandbox", method="page")
        slot = make_session(doctor=DoctorFactory(hospital=doctor.hospital), date=in_days(4)).slots.get()
        strangers_on(slot, 2)
        later["appointment"] = book_slot(user=user, patient=PatientFactory(user=user), slot=slot)

    def pay(appointment):
        return post(api, f"/api/v1/appointments/{appointment.order_no}/pay/", {"provider": "sandbox"})

    first, response = fixed_cost(lambda: pay(mine), grow, lambda: pay(later["appointment"]))
    assert first.status_code == response.status_code == 200
    assert response.json()["amount_fen"] == 2000


def test_rescheduling_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    mine = book_slot(user=user, patient=patient, slot=make_session(doctor=doctor, date=in_days(3)).slots.get())
    target = make_session(doctor=doctor, date=in_days(4)).slots.get()
    later = {}

    def grow():
        history(user=user, hospital=doctor.hospital, count=4)
        other = DoctorFactory(hospital=doctor.hospital, registration_fee_fen=2000)
        for days in (1, 2, 5, 6):
            strangers_on(make_session(doctor=other, places=3, segments=2, date=in_days(days)).slots.first(), 2)
        slot = make_session(doctor=other, places=3, date=in_days(3)).slots.get()
        strangers_on(slot, 2)
        later["appointment"] = book_slot(user=user, patient=PatientFactory(user=user), slot=slot)
        later["target"] = make_session(doctor=other, places=3, date=in_days(4)).slots.get()
        strangers_on(later["target"], 2)

    def move(appointment, slot):
        return post(api, f"/api/v1/appointments/{appointment.order_no}/reschedule/", {"slot": slot.pk})

    first, response = fixed_cost(lambda: move(mine, target), grow, lambda: move(later["appointment"], later["target"]))
    assert first.status_code == response.status_code == 201, response.content
    assert response.json()["slot"] == later["target"].pk


def dearer(slot, by_fen: int = 1000):
    Schedule.objects.filter(pk=slot.schedule_id).update(fee_fen=F("fee_fen") + by_fen)
    return slot


@pytest.mark.usefixtures("sandbox")
def test_a_dearer_move_paid_at_once_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    """A paid order moving to a dearer place: the place is held and paying the difference starts."""

    def paid(person_, slot):
        appointment = book_slot(user=user, patient=person_, slot=slot)
        record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=timezone.now())
        return appointment

    mine = paid(patient, make_session(doctor=doctor, date=in_days(3)).slots.get())
    target = dearer(make_session(doctor=doctor, date=in_days(4)).slots.get())
    later = {}

    def grow():
        history(user=user, hospital=doctor.hospital, count=4)
        other = DoctorFactory(hospital=doctor.hospital, registration_fee_fen=2000)
        slot = make_session(doctor=other, places=3, date=in_days(3)).slots.get()
        strangers_on(slot, 2)
        later["appointment"] = paid(PatientFactory(user=user), slot)
        later["target"] = dearer(make_session(doctor=other, places=3, date=in_days(4)).slots.get())
        strangers_on(later["target"], 2)

    def move(appointment, slot):
        body = {"slot": slot.pk, "provider": "sandbox"}
        return post(api, f"/api/v1/appointments/{appointment.order_no}/reschedule/", body)

    first, response = fixed_cost(lambda: move(mine, target), grow, lambda: move(later["appointment"], later["target"]))
    assert first.status_code == response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "awaiting_difference" and body["payment"]["amount_fen"] == 1000


# ---------------------------------------------------------------------------------------------
# Lottery entries


def test_entering_a_lottery_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    lottery = open_lottery(doctor, days=3, entries=1)
    later = {}

    def grow():
        history(user=user, hospital=doctor.hospital, count=3)
        other = DoctorFactory(hospital=doctor.hospital)
        for days in (4, 5):  # the account's other entries
            entrant = PatientFactory(user=user)
            request_booking(user=user, patient=entrant, schedule=open_lottery(other, days=days, entries=2))
        later["lottery"] = open_lottery(other, days=3, entries=5)
        later["patient"] = PatientFactory(user=user)

    def request(schedule, person_):
        return post(api, "/api/v1/booking-requests/", {"schedule": schedule.pk, "patient": person_.pk})

    first, response = fixed_cost(
        lambda: request(lottery, patient), grow, lambda: request(later["lottery"], later["patient"])
    )
    assert first.status_code == response.status_code == 201, response.content


def my_entries(*, user, doctor, count: int, first_day: int) -> list[BookingRequest]:
    """The account's entries in `count` open lotteries of the doctor, each with two strangers' too."""
    entries = []
    for days in range(first_day, first_day + count):
        lottery = open_lottery(doctor, days=days, entries=2)
        entries.append(request_booking(user=user, patient=PatientFactory(user=user), schedule=lottery))
    return entries


def test_a_lottery_entry_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    [mine] = my_entries(user=user, doctor=doctor, count=1, first_day=1)
    url = f"/api/v1/booking-requests/{mine.pk}/"

    def grow():
        my_entries(user=user, doctor=DoctorFactory(hospital=doctor.hospital), count=4, first_day=1)
        for _ in range(4):
            enter(mine.schedule)
        history(user=user, hospital=doctor.hospital, count=3)

    first, response = fixed_cost(lambda: api.get(url), grow)
    assert first.status_code == response.status_code == 200
    assert response.json()["schedule"]["id"] == mine.schedule_id


def test_withdrawing_a_lottery_entry_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    [mine] = my_entries(user=user, doctor=doctor, count=1, first_day=1)
    later = {}

    def grow():
        later["entry"] = my_entries(user=user, doctor=DoctorFactory(hospital=doctor.hospital), count=4, first_day=1)[-1]
        for _ in range(4):
            enter(later["entry"].schedule)
        history(user=user, hospital=doctor.hospital, count=3)

    def withdraw(entry):
        return api.delete(f"/api/v1/booking-requests/{entry.pk}/")

    first, response = fixed_cost(lambda: withdraw(mine), grow, lambda: withdraw(later["entry"]))
    assert first.status_code == response.status_code == 200
    assert response.json()["status"] == "withdrawn"


# ---------------------------------------------------------------------------------------------
# Waitlist


def full_session(doctor, *, days: int, waiting: int = 0) -> Schedule:
    """A one-place session a stranger holds, with `waiting` strangers already in its line."""
    session = make_session(doctor=doctor, places=1, date=in_days(days))
    strangers_on(session.slots.get(), 1)
    for _ in range(waiting):
        queue_stranger(session)
    return session


def queue_stranger(session: Schedule) -> WaitlistEntry:
    waiter = PatientFactory()
    return WaitlistEntry.objects.create(
        schedule=session, patient=waiter, person_key=waiter.person_key, booked_by=waiter.user
    )


def wait_for(*, user, session: Schedule) -> WaitlistEntry:
    waiter = PatientFactory(user=user)
    return WaitlistEntry.objects.create(schedule=session, patient=waiter, person_key=waiter.person_key, booked_by=user)


def test_joining_a_waitlist_costs_fixed_queries(api, rules, doctor, patient, user, fixed_cost):
    session = full_session(doctor, days=3, waiting=1)
    later = {}

    def grow():
        history(user=user, hospital=doctor.hospital, count=3)
        other = DoctorFactory(hospital=doctor.hospital)
        for days in (4, 5):
            wait_for(user=user, session=full_session(other, days=days, waiting=2))
        later["session"] = full_session(other, days=3, waiting=5)
        later["patient"] = PatientFactory(user=user)

    def join(schedule, person_):
        return post(api, "/api/v1/waitlist/", {"schedule": schedule.pk, "patient": person_.pk})

    first, response = fixed_cost(lambda: join(session, patient), grow, lambda: join(later["session"], later["patient"]))
    assert first.status_code == response.status_code == 201, response.content
    assert response.json()["position"] == 6


def test_a_waitlist_place_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    session = full_session(doctor, days=3, waiting=1)
    mine = wait_for(user=user, session=session)
    url = f"/api/v1/waitlist/{mine.pk}/"

    def grow():
        for _ in range(4):  # behind me
            queue_stranger(session)
        other = DoctorFactory(hospital=doctor.hospital)
        for days in (4, 5, 6):
            wait_for(user=user, session=full_session(other, days=days, waiting=3))
        history(user=user, hospital=doctor.hospital, count=3)

    first, response = fixed_cost(lambda: api.get(url), grow)
    assert first.status_code == response.status_code == 200
    assert response.json()["position"] == 2


def test_leaving_a_waitlist_costs_fixed_queries(api, rules, doctor, user, fixed_cost):
    mine = wait_for(user=user, session=full_session(doctor, days=3, waiting=1))
    later = {}

    def grow():
        other = DoctorFactory(hospital=doctor.hospital)
        for days in (4, 5):
            wait_for(user=user, session=full_session(other, days=days, waiting=2))
        later["entry"] = wait_for(user=user, session=full_session(other, days=3, waiting=5))
        history(user=user, hospital=doctor.hospital, count=3)

    def leave(entry):
        return api.delete(f"/api/v1/waitlist/{entry.pk}/")

    first, response = fixed_cost(lambda: leave(mine), grow, lambda: leave(later["entry"]))
    assert first.status_code == response.status_code == 200
    assert response.json()["status"] == "cancelled"


# ---------------------------------------------------------------------------------------------
# Penalties: booking/tests/test_api.py grows the records; here the bans grow too, across people
# and hospitals.


def penalised(*, user, hospital) -> None:
    """One of the account's people with a record and a ban in force at the hospital."""
    BookingRulesFactory(hospital=hospital, **ROOMY)
    victim = PatientFactory(user=user)
    slot = make_session(doctor=DoctorFactory(hospital=hospital), places=2).slots.get()
    appointment = book_slot(user=user, patient=victim, slot=slot)
    now = timezone.now()
    Penalty.objects.create(
        person_key=victim.person_key, patient=victim, hospital=hospital, appointment=appointment,
        kind=Penalty.Kind.NO_SHOW, occurred_at=now,
    )  # fmt: skip
    BookingBan.objects.create(
        person_key=victim.person_key, patient=victim, hospital=hospital, starts_at=now,
        ends_at=now + datetime.timedelta(days=90), reason="爽约3次",
    )  # fmt: skip


def test_my_penalties_and_bans_cost_fixed_queries(api, user, fixed_cost):
    penalised(user=user, hospital=DoctorFactory().hospital)

    def grow():
        for _ in range(4):
            penalised(user=user, hospital=DoctorFactory().hospital)

    first, response = fixed_cost(lambda: api.get("/api/v1/me/penalties/"), grow)
    assert first.status_code == response.status_code == 200
    body = response.json()
    assert body["banned"] is True
    assert len(body["bans"]) == len(body["penalties"]) == 5


# ---------------------------------------------------------------------------------------------
# allauth headless (JSON): what an app reads with its X-Session-Token


def test_the_app_account_reads_cost_fixed_queries(client, rules, doctor, fixed_cost):
    account = PatientFactory(user=UserFactory(phone="13800138000")).user
    token = app_token(Client(), "13800138000")

    def grow():
        PatientFactory.create_batch(4, user=account)
        history(user=account, hospital=doctor.hospital, count=3)
        UserFactory.create_batch(3)

    def reads():
        paths = ("auth/session", "config", "account/phone", "account/email")
        return [client.get(f"/_allauth/app/v1/{path}", HTTP_X_SESSION_TOKEN=token) for path in paths]

    first, responses = fixed_cost(reads, grow)
    assert [r.status_code for r in first] == [r.status_code for r in responses] == [200] * 4
    assert responses[0].json()["data"]["user"]["id"] == account.pk


# ---------------------------------------------------------------------------------------------
# The partner API


@pytest.fixture
def granted(db):
    """A hospital granted to the partner (every place in the partner channel), its doctor and session."""
    return partner_hospital("授权医院")


@pytest.fixture
def partner(granted):
    platform = PartnerFactory()
    HospitalGrantFactory(partner=platform, hospital=granted["hospital"])
    return platform


@pytest.fixture
def partner_api(client, partner):
    client.defaults["HTTP_X_API_KEY"] = make_key(partner)[1]
    return client


def partner_books(partner, slot, order: int) -> Appointment:
    patient = partner_services.register_patient(partner=partner, **person(order))
    return partner_services.book_for_patient(partner=partner, patient=patient, slot=slot)


def grow_partner(granted, partner, *, size: int, first_order: int) -> None:
    """More granted hospitals (doctors, sessions), more departments and doctors at the first one,
    and more of the partner's orders for more people."""
    for index in range(size):
        extra = partner_hospital(f"扩展医院{first_order + index}")
        HospitalGrantFactory(partner=partner, hospital=extra["hospital"])
        partner_books(partner, extra["slot"], first_order + index)
        DoctorFactory(
            hospital=granted["hospital"], departments=DepartmentFactory.create_batch(2, hospital=granted["hospital"])
        )


def test_partner_details_cost_fixed_queries(partner_api, granted, partner, fixed_cost):
    """A hospital, a doctor and an order, read together before and after the growth."""
    order = partner_books(partner, granted["slot"], 1)
    urls = [
        f"{PARTNER}/hospitals/{granted['hospital'].pk}/",
        f"{PARTNER}/doctors/{granted['doctor'].pk}/",
        f"{PARTNER}/appointments/{order.order_no}/",
    ]

    def grow():
        granted["doctor"].departments.add(*DepartmentFactory.create_batch(4, hospital=granted["hospital"]))
        grow_partner(granted, partner, size=4, first_order=10)

    first, responses = fixed_cost(lambda: [partner_api.get(url) for url in urls], grow)
    assert [r.status_code for r in first] == [r.status_code for r in responses] == [200] * 3
    assert len(responses[1].json()["departments"]) == 5


def test_partner_booking_costs_fixed_queries(partner_api, granted, partner, fixed_cost):
    first_slot, second_slot = granted["session"].slots.order_by("start_at", "pk")

    def book(slot, order):
        return post(partner_api, f"{PARTNER}/appointments/", {"slot": slot.pk, "patient": person(order)})

    first, response = fixed_cost(
        lambda: book(first_slot, 1),
        lambda: grow_partner(granted, partner, size=4, first_order=10),
        lambda: book(second_slot, 2),
    )
    assert first.status_code == response.status_code == 201, response.content


def test_partner_cancelling_costs_fixed_queries(partner_api, granted, partner, fixed_cost):
    mine = partner_books(partner, granted["slot"], 1)
    later = {}

    def grow():
        grow_partner(granted, partner, size=4, first_order=10)
        later["appointment"] = partner_books(partner, granted["slot"], 2)

    def cancel(appointment):
        return post(partner_api, f"{PARTNER}/appointments/{appointment.order_no}/cancel/", {"reason": "患者改期"})

    first, response = fixed_cost(lambda: cancel(mine), grow, lambda: cancel(later["appointment"]))
    assert first.status_code == response.status_code == 200
    assert response.json()["status"] == "cancelled"


@pytest.mark.usefixtures("sandbox")
def test_partner_paying_costs_fixed_queries(partner_api, granted, partner, fixed_cost):
    mine = partner_books(partner, granted["slot"], 1)
    later = {}

    def grow():
        grow_partner(granted, partner, size=4, first_order=10)
        for appointment in Appointment.objects.filter(partner=partner).exclude(pk=mine.pk):
            pay_appointment(user=partner.user, appointment=appointment, provider="sandbox", method="page")
        later["appointment"] = partner_books(partner, granted["slot"], 2)

    def pay(appointment):
        return post(partner_api, f"{PARTNER}/appointments/{appointment.order_no}/pay/", {"provider": "sandbox"})

    first, response = fixed_cost(lambda: pay(mine), grow, lambda: pay(later["appointment"]))
    assert first.status_code == response.status_code == 200
    assert response.json()["redirect_url"]


def test_partner_rescheduling_costs_fixed_queries(partner_api, granted, partner, fixed_cost):
    first_slot, second_slot = granted["session"].slots.order_by("start_at", "pk")
    mine = partner_books(partner, first_slot, 1)
    later = {}

    def grow():
        grow_partner(granted, partner, size=4, first_order=10)
        session = make_session(doctor=granted["doctor"], places=3, segments=2, date=in_days(4))
        start, end = session.slots.order_by("start_at", "pk")
        for order in (20, 21):
            partner_books(partner, end, order)
        later["appointment"], later["target"] = partner_books(partner, start, 2), end

    def move(appointment, slot):
        return post(partner_api, f"{PARTNER}/appointments/{appointment.order_no}/reschedule/", {"slot": slot.pk})

    first, response = fixed_cost(
        lambda: move(mine, second_slot), grow, lambda: move(later["appointment"], later["target"])
    )
    assert first.status_code == response.status_code == 201, response.content


# ---------------------------------------------------------------------------------------------
# The FHIR feed: the manifest and the reads (files and searches: interop/tests/test_feed.py)


def more_sessions(doctor, count: int) -> None:
    """Other hospitals' sessions, and more of the doctor's own (three slots each)."""
    for days in range(1, count + 1):
        make_session(doctor=DoctorFactory(), segments=3, date=in_days(days))
        make_session(doctor=doctor, segments=3, date=in_days(days), period=Period.AFTERNOON)


def test_the_fhir_manifest_costs_fixed_queries(client, doctor, fixed_cost):
    make_session(doctor=doctor)
    first, response = fixed_cost(lambda: client.get("/fhir/r4/$bulk-publish"), lambda: more_sessions(doctor, 5))
    assert first.status_code == response.status_code == 200


@pytest.mark.parametrize("resource_type", ["Location", "Schedule", "Slot"])
def test_fhir_reads_cost_fixed_queries(client, doctor, fixed_cost, resource_type):
    session = make_session(doctor=doctor, segments=2)
    pk = {"Location": doctor.hospital_id, "Schedule": session.pk, "Slot": session.slots.first().pk}[resource_type]
    url = f"/fhir/r4/{resource_type}/{pk}"
    first, response = fixed_cost(lambda: client.get(url), lambda: more_sessions(doctor, 5))
    assert first.status_code == response.status_code == 200
    assert response.json()["id"] == str(pk)


# ---------------------------------------------------------------------------------------------
# The OpenAPI schema (made from the code: no query at all)


def test_the_schema_costs_fixed_queries(client, fixed_cost):
    first, response = fixed_cost(lambda: client.get("/api/schema/"), lambda: more_sessions(DoctorFactory(), 3))
    assert first.status_code == response.status_code == 200
