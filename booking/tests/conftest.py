import threading

import pytest
from django.db import connection

from accounts.tests.factories import PatientFactory, UserFactory
from booking import errors
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


def run_concurrently(calls):
    """Start every call at the same instant (behind a barrier); return each outcome or error code."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except errors.BookingError as exc:
            outcomes[index] = exc.code
        except Exception as exc:  # anything else is a bug the test must show
            outcomes[index] = f"crash: {exc!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def side_effects(callbacks):
    """The on-commit callbacks a test counts (SMS, refunds, webhooks), without the cache upkeep
    (the browse cache, sold-out marks and cached rules are refreshed on every commit)."""
    from booking.eligibility import forget_rules
    from booking.places import after_places_changed
    from scheduling.selectors import forget_doctor_schedules

    upkeep = (after_places_changed, forget_rules, forget_doctor_schedules)
    return [c for c in callbacks if getattr(c, "func", None) not in upkeep]
