import pytest
from django.core.cache import cache

from accounts.tests.factories import PatientFactory
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.tests.factories import make_session

ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def doctor(db):
    return DoctorFactory(registration_fee_fen=2000)


@pytest.fixture
def rules(doctor):
    return BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)


@pytest.fixture
def session(rules, doctor):
    return make_session(doctor=doctor, places=2)


@pytest.fixture
def patient(db):
    return PatientFactory()
