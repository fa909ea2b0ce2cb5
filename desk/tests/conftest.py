"""A hospital's working day for the desk tests: fixed at 10:00 local time today."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking.services import book_slot, record_payment
from hospital.models import HospitalStaff
from hospital.tests.factories import (
    BookingRulesFactory,
    DepartmentFactory,
    DoctorFactory,
    HospitalFactory,
    HospitalStaffFactory,
)
from scheduling.tests.factories import make_session

SHARES = {"online_share": 50, "partner_share": 0, "window_share": 30, "clinic_share": 20}
Role = HospitalStaff.Role


@pytest.fixture
def clock():
    """Now is 10:00 today (Asia/Shanghai) for the services, the pages and the live server alike."""
    today = timezone.localdate()
    moment = timezone.make_aware(datetime.datetime.combine(today, datetime.time(10, 0)))
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield moment


def build_hospital(mark: str, *, sessions: bool = True) -> dict:
    """Two departments; doctors 甲/乙 in the first, 丙 in the second; sessions today 08:00–12:00 and tomorrow."""
    hospital = HospitalFactory(name=f"{mark}医院", code=f"desk-{ord(mark)}")
    BookingRulesFactory(hospital=hospital, **SHARES)
    first = DepartmentFactory(hospital=hospital, name=f"{mark}内科", location="门诊楼2层B区")
    second = DepartmentFactory(hospital=hospital, name=f"{mark}外科")
    doctor = DoctorFactory(hospital=hospital, name=f"{mark}医生", departments=[first], registration_fee_fen=2000)
    colleague = DoctorFactory(hospital=hospital, name=f"{mark}同事", departments=[first])
    other = DoctorFactory(hospital=hospital, name=f"{mark}外科医生", departments=[second])
    world = {"hospital": hospital, "first": first, "second": second, "doctor": doctor}
    world["colleague"], world["other_doctor"] = colleague, other
    today = timezone.localdate()
    if sessions:
        world["today"] = make_session(doctor=doctor, date=today, places=10, segments=8)
        world["tomorrow"] = make_session(doctor=doctor, date=today + datetime.timedelta(days=1), places=10)
        world["colleague_tomorrow"] = make_session(doctor=colleague, date=today + datetime.timedelta(days=1), places=10)
        world["other_today"] = make_session(doctor=other, date=today, places=10, segments=8)
    world["admin"] = HospitalStaffFactory(hospital=hospital, role=Role.HOSPITAL_ADMIN, user__name=f"{mark}管理员").user
    world["front_desk"] = HospitalStaffFactory(hospital=hospital, role=Role.FRONT_DESK, user__name=f"{mark}窗口").user
    scheduler = HospitalStaffFactory(hospital=hospital, role=Role.SCHEDULER, user__name=f"{mark}号源")
    scheduler.departments.set([first])
    world["scheduler"] = scheduler.user
    world["doctor_user"] = HospitalStaffFactory(
        hospital=hospital, role=Role.DOCTOR, doctor=doctor, user__name=f"{mark}医生账号"
    ).user
    world["other_doctor_user"] = HospitalStaffFactory(
        hospital=hospital, role=Role.DOCTOR, doctor=other, user__name=f"{mark}外科医生账号"
    ).user
    return world


@pytest.fixture
def world(clock, db):
    return build_hospital("甲")


@pytest.fixture
def theirs(clock, db):
    return build_hospital("丙")


def online_booking(world, *, slot_index: int = 0, session: str = "today", name: str | None = None):
    """A patient who booked and paid online the day before, in the given segment of the session."""
    slot = world[session].slots.order_by("start_at")[slot_index]
    patient = PatientFactory(**({"name": name} if name else {}))
    moment = slot.start_at - datetime.timedelta(hours=30)
    appointment = book_slot(user=patient.user, patient=patient, slot=slot, now=moment)
    record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=moment)
    appointment.refresh_from_db()
    return appointment


def window_booking(world, *, slot_index: int = 0, session: str = "today"):
    slot = world[session].slots.order_by("start_at")[slot_index]
    patient = PatientFactory(user=None)
    return book_slot(user=world["front_desk"], patient=patient, slot=slot, channel="window", now=slot.start_at)
