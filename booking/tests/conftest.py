import pytest

from accounts.tests.factories import PatientFactory, UserFactory
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.tests.factories import make_session

ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}


@pytest.fixture
def doctor(db):
    return DoctorFactory(registration_fee_fen=2000)


@pytest.fixture
def rules(doctor):
    """Hospital rules with every place online (channel tests set their own shares)."""
    return BookingRulesFactory(hospital=doctor.hospital, **ALL_ONLINE)


@pytest.fixture
def session(rules, doctor):
    return make_session(doctor=doctor, places=5)


@pytest.fixture
def slot(session):
    return session.slots.get()


@pytest.fixture
def patient(db):
    return PatientFactory()


@pytest.fixture
def user(patient):
    return patient.user


@pytest.fixture
def outsider(db):
    return UserFactory()


@pytest.fixture
def front_desk(doctor):
    return HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.FRONT_DESK).user


@pytest.fixture
def hospital_admin(doctor):
    return HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN).user


@pytest.fixture
def scheduler(doctor):
    return HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user


# The payment providers' fake servers (real SDK code, HTTP intercepted) for end-to-end payment tests.
from payments.tests.conftest import alipay, keys, sandbox, wechat  # noqa: E402, F401
