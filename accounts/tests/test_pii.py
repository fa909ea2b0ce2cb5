"""Phones and ID numbers: encrypted at rest, found by keyed hash, shown masked."""

import datetime

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection

from accounts import pii
from accounts.models import Patient, User
from accounts.tests.factories import PatientFactory, UserFactory

ID_NUMBER = "11010119850103123X"


def raw_row(model, pk) -> tuple:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


def test_encrypt_then_decrypt_gives_the_plaintext_back():
    token = pii.encrypt(ID_NUMBER)
    assert token != ID_NUMBER
    assert pii.decrypt(token) == ID_NUMBER


def test_same_value_encrypts_differently_each_time():
    assert pii.encrypt("13812345678") != pii.encrypt("13812345678")


def test_masks():
    assert pii.mask_id_number(ID_NUMBER) == "110***********123X"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_id_number("") == pii.mask_phone("") == ""


def test_lookup_hash_is_keyed(settings):
    before = pii.lookup_hash("phone", "13812345678")
    settings.PII_HASH_KEY = "another-key"
    assert pii.lookup_hash("phone", "13812345678") != before


def test_value_written_under_an_old_key_still_decrypts_after_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PII_ENCRYPTION_KEYS = [old]
    token = pii.encrypt(ID_NUMBER)
    settings.PII_ENCRYPTION_KEYS = [new, old]
    assert pii.decrypt(token) == ID_NUMBER
    fresh = pii.encrypt(ID_NUMBER)
    settings.PII_ENCRYPTION_KEYS = [new]
    assert pii.decrypt(fresh) == ID_NUMBER, "the first key encrypts new values"


def test_value_under_an_unknown_key_is_a_configuration_error(settings):
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = pii.encrypt(ID_NUMBER)
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured):
        pii.decrypt(token)


@pytest.mark.django_db
def test_patient_row_keeps_neither_raw_id_number_nor_raw_phone():
    patient = PatientFactory(id_number=ID_NUMBER, birth_date=datetime.date(1985, 1, 3), gender="M", phone="13812345678")
    row = raw_row(Patient, patient.pk)
    for column in row:
        assert ID_NUMBER not in str(column)
        assert "13812345678" not in str(column)
        assert "12345678" not in str(column)


@pytest.mark.django_db
def test_user_row_keeps_no_raw_phone():
    user = UserFactory(phone="13812345678")
    for column in raw_row(User, user.pk):
        assert "13812345678" not in str(column)


@pytest.mark.django_db
def test_patient_round_trip_through_the_database():
    PatientFactory(id_number=ID_NUMBER, birth_date=datetime.date(1985, 1, 3), gender="M", phone="13812345678")
    patient = Patient.objects.get()
    assert patient.id_number == ID_NUMBER
    assert patient.phone == "13812345678"
    assert patient.masked_id_number == "110***********123X"
    assert patient.masked_phone == "138****5678"


@pytest.mark.django_db
def test_row_written_under_an_old_key_reads_after_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PII_ENCRYPTION_KEYS = [old]
    user = UserFactory(phone="13812345678")
    settings.PII_ENCRYPTION_KEYS = [new, old]
    assert User.objects.get(pk=user.pk).phone == "13812345678"


@pytest.mark.django_db
def test_user_is_found_by_phone_in_any_common_spelling():
    user = UserFactory(phone="13812345678")
    for spelling in ["13812345678", "+8613812345678", "+86 138-1234-5678", "008613812345678"]:
        assert User.objects.get_by_phone(spelling) == user


@pytest.mark.django_db
def test_unknown_or_malformed_phone_is_does_not_exist():
    UserFactory(phone="13812345678")
    for phone in ["13812345679", "12345", ""]:
        with pytest.raises(User.DoesNotExist):
            User.objects.get_by_phone(phone)


@pytest.mark.django_db
def test_phone_lookup_touches_only_the_hash_column(django_assert_num_queries):
    UserFactory(phone="13812345678")
    with django_assert_num_queries(1) as captured:
        User.objects.get_by_phone("13812345678")
    sql = captured.captured_queries[0]["sql"]
    assert "phone_hash" in sql
    assert "13812345678" not in sql


@pytest.mark.django_db
def test_patient_is_found_by_document_hash():
    patient = PatientFactory(id_number=ID_NUMBER, birth_date=datetime.date(1985, 1, 3), gender="M")
    key = Patient.document_hash(Patient.IdType.RESIDENT_ID, "11010119850103123x ")
    assert Patient.objects.get(id_number_hash=key) == patient
    passport_key = Patient.document_hash(Patient.IdType.PASSPORT, ID_NUMBER)
    assert not Patient.objects.filter(id_number_hash=passport_key).exists()


@pytest.mark.django_db
def test_database_refuses_a_second_account_with_the_same_phone():
    UserFactory(phone="13812345678")
    with pytest.raises(IntegrityError):
        UserFactory(phone="+86 138 1234 5678")


@pytest.mark.django_db
def test_database_refuses_the_same_person_twice_in_one_account():
    patient = PatientFactory(id_number=ID_NUMBER, birth_date=datetime.date(1985, 1, 3), gender="M")
    with pytest.raises(IntegrityError):
        PatientFactory(user=patient.user, id_number=ID_NUMBER, birth_date=patient.birth_date, gender="M")


@pytest.mark.django_db
def test_same_person_may_be_a_patient_of_two_accounts():
    first = PatientFactory(id_number=ID_NUMBER, birth_date=datetime.date(1985, 1, 3), gender="M")
    second = PatientFactory(id_number=ID_NUMBER, birth_date=datetime.date(1985, 1, 3), gender="M")
    assert first.person_key == second.person_key
