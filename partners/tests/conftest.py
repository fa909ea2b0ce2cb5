import pytest

from accounts.tests.factories import PartnerFactory
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalFactory
from partners.tests.factories import HospitalGrantFactory, make_key
from scheduling.tests.factories import make_session

PARTNER_ONLY = {"online_share": 0, "partner_share": 100, "window_share": 0, "clinic_share": 0}


def partner_hospital(name: str):
    hospital = HospitalFactory(name=name)
    BookingRulesFactory(hospital=hospital, **PARTNER_ONLY)
    doctor = DoctorFactory(hospital=hospital)
    session = make_session(doctor=doctor, places=3, segments=2)
    return {"hospital": hospital, "doctor": doctor, "session": session, "slot": session.slots.order_by("pk").first()}


@pytest.fixture
def granted():
    return partner_hospital("授权医院")


@pytest.fixture
def ungranted():
    return partner_hospital("未授权医院")


@pytest.fixture
def partner(granted):
    partner = PartnerFactory(name="好大夫平台", code="haodf")
    HospitalGrantFactory(partner=partner, hospital=granted["hospital"])
    return partner


@pytest.fixture
def api_key(partner):
    return make_key(partner)[1]


@pytest.fixture
def api(client, api_key):
    """The test client, sending the partner's key."""
    client.defaults["HTTP_X_API_KEY"] = api_key
    return client
