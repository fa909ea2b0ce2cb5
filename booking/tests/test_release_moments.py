"""The release moments have one home: scheduling.models.release_moments (and RESERVE_RELEASE_FLAGS)."""

import ast
import datetime
import pathlib

import pytest

from accounts.tests.factories import PatientFactory
from booking.services import book_slot, release_reserves
from hospital.channels import RESERVE_CHANNELS, Channel
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.models import RESERVE_RELEASE_FLAGS, Slot, release_moments
from scheduling.tests.factories import make_session

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULE_FIELDS = {
    "release_time",
    "reserve_release_days_before",
    "reserve_release_time",
    "partner_cutoff_days_before",
    "partner_cutoff_time",
}
HOME = {pathlib.Path("scheduling/models.py"), pathlib.Path("hospital/models.py")}


def test_every_reserve_channel_has_exactly_one_release_flag():
    flagged = [channel for channels in RESERVE_RELEASE_FLAGS.values() for channel in channels]
    assert sorted(flagged) == sorted(RESERVE_CHANNELS)
    assert all(hasattr(Slot, flag) for flag in RESERVE_RELEASE_FLAGS)


def test_no_module_outside_the_home_reads_the_release_rules():
    readers = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if {".venv", "migrations", "tests"} & set(relative.parts) or relative in HOME:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in RULE_FIELDS:
                readers.append(f"{relative}:{node.lineno} .{node.attr}")
    assert readers == []


@pytest.mark.django_db
def test_schedules_slots_and_the_reserve_sweep_follow_the_one_home():
    doctor = DoctorFactory()
    rules = BookingRulesFactory(
        hospital=doctor.hospital,
        online_share=40,
        partner_share=20,
        window_share=20,
        clinic_share=20,
        release_time=datetime.time(7, 30),
        reserve_release_days_before=2,
        reserve_release_time=datetime.time(21, 15),
        partner_cutoff_days_before=3,
        partner_cutoff_time=datetime.time(9, 5),
    )
    slot = make_session(doctor=doctor, places=10).slots.get()
    schedule = slot.schedule
    moments = release_moments(rules=rules, visit_date=schedule.date)
    assert schedule.release_at == moments["release_at"]

    desk = HospitalStaffFactory(hospital=doctor.hospital).user
    book_slot(user=desk, patient=PatientFactory(), slot=slot, channel=Channel.WINDOW)
    second = datetime.timedelta(seconds=1)
    assert release_reserves(now=moments["partner_released_at"] - second) == 0
    assert release_reserves(now=moments["partner_released_at"]) == 2  # the partner share
    slot.refresh_from_db()
    assert slot.channel_released(Channel.PARTNER) and not slot.channel_released(Channel.WINDOW)
    assert release_reserves(now=moments["reserves_released_at"] - second) == 0
    assert release_reserves(now=moments["reserves_released_at"]) == 3  # window 2 - 1 booked, clinic 2
    slot.refresh_from_db()
    assert slot.channel_released(Channel.WINDOW) and slot.channel_released(Channel.CLINIC)
    assert not slot.channel_released(Channel.ONLINE)
