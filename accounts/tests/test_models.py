import datetime

import pytest
from django.core.exceptions import ValidationError

from accounts.id_numbers import parse_resident_id
from accounts.models import Patient
from accounts.tests.factories import PartnerFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_factory_patients_carry_valid_consistent_id_numbers():
    for patient in PatientFactory.create_batch(5):
        parsed = parse_resident_id(patient.id_number)
        assert (parsed.birth_date, parsed.gender) == (patient.birth_date, patient.gender)
        patient.full_clean()


def test_factory_patient_follows_a_given_birth_date_and_gender():
    patient = PatientFactory(birth_date=datetime.date(2016, 5, 20), gender="F", relation=Patient.Relation.CHILD)
    assert parse_resident_id(patient.id_number).birth_date == datetime.date(2016, 5, 20)
    patient.full_clean()


def test_clean_refuses_a_birth_date_that_disagrees_with_the_id_number():
    patient = PatientFactory.build(user=UserFactory(), birth_date=datetime.date(1990, 3, 7), gender="M")
    patient.birth_date = datetime.date(1990, 3, 8)
    with pytest.raises(ValidationError) as excinfo:
        patient.full_clean()
    assert "出生日期与身份证号码不一致" in excinfo.value.message_dict["birth_date"][0]
    assert "1990-03-07" in excinfo.value.message_dict["birth_date"][0]


def test_clean_refuses_a_gender_that_disagrees_with_the_id_number():
    patient = PatientFactory.build(user=UserFactory(), gender="M")
    patient.gender = "F"
    with pytest.raises(ValidationError) as excinfo:
        patient.full_clean()
    assert "第17位" in excinfo.value.message_dict["gender"][0]


def test_clean_reports_a_bad_id_number_on_its_field():
    patient = PatientFactory.build(user=UserFactory(), id_number="110101199003071234")
    with pytest.raises(ValidationError) as excinfo:
        patient.full_clean()
    assert "校验位" in excinfo.value.message_dict["id_number"][0]


def test_passport_holder_needs_no_resident_id_checks():
    patient = PatientFactory.build(user=UserFactory(), id_type=Patient.IdType.PASSPORT, id_number="e12345678")
    patient.full_clean()
    assert patient.id_number == "E12345678"


def test_clean_normalises_the_phone():
    patient = PatientFactory.build(user=UserFactory(), phone="+86 138-1234-5678")
    patient.full_clean()
    assert patient.phone == "13812345678"


def test_user_string_is_the_name_or_the_masked_phone():
    assert str(UserFactory(name="张三")) == "张三"
    assert str(UserFactory(name="", phone="13812345678")) == "138****5678"


def test_partner_factory_gives_a_service_account():
    partner = PartnerFactory()
    assert partner.user.partner == partner


def test_age_on_a_day():
    patient = PatientFactory.build(birth_date=datetime.date(2016, 5, 20))
    assert patient.age_on(datetime.date(2026, 5, 19)) == 9
    assert patient.age_on(datetime.date(2026, 5, 20)) == 10
