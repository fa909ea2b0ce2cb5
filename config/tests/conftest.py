"""The booking tests' doctor, patient and account, for the tests here that book through the API."""

from booking.tests.conftest import doctor, patient, user  # noqa: F401  (fixtures, found by name)
