"""factory_boy factories for accounts: users, 就诊人 and partner platforms.

Every generated phone number and resident ID number is valid (mainland mobile format,
GB 11643 check digit, birth date and gender encoded in the number), so a factory-made
row passes the same validation a real one does.
"""

import datetime

import factory

from accounts.id_numbers import check_digit
from accounts.models import Partner, Patient, User

DEFAULT_PASSWORD = "test-pass-12345"
# 110101: 北京市东城区, a valid address code.
DEFAULT_REGION = "110101"


def resident_id_number(*, birth_date: datetime.date, gender: str, order: int = 0, region: str = DEFAULT_REGION) -> str:
    """A valid 居民身份证 number for the given birth date and gender ("M" or "F").

    `order` picks the sequence code (0–499), so one birth date yields 500 distinct numbers
    per gender.
    """
    sequence = (order % 500) * 2 + (1 if gender == Patient.Gender.MALE else 0)
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


class UserFactory(factory.django.DjangoModelFactory):
    """An account with a unique phone (150xxxxxxxx) and the password DEFAULT_PASSWORD."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"150{n:08d}")
    phone_verified = True
    name = factory.Faker("name", locale="zh_CN")
    password = factory.django.Password(DEFAULT_PASSWORD)


class StaffUserFactory(UserFactory):
    is_staff = True


class SuperUserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class PatientFactory(factory.django.DjangoModelFactory):
    """A 就诊人 with a valid resident ID that agrees with its birth date and gender.

    Pass `birth_date` and/or `gender` and the ID number follows them.
    """

    class Meta:
        model = Patient

    class Params:
        order = factory.Sequence(lambda n: n)

    user = factory.SubFactory(UserFactory)
    name = factory.Faker("name", locale="zh_CN")
    gender = factory.Iterator([Patient.Gender.MALE, Patient.Gender.FEMALE])
    # One birth date per sequence number keeps ID numbers unique across a test run.
    birth_date = factory.LazyAttribute(lambda o: datetime.date(1960, 1, 1) + datetime.timedelta(days=o.order % 20000))
    relation = Patient.Relation.SELF
    id_type = Patient.IdType.RESIDENT_ID
    id_number = factory.LazyAttribute(
        lambda o: resident_id_number(birth_date=o.birth_date, gender=o.gender, order=o.order)
    )
    phone = factory.Sequence(lambda n: f"151{n:08d}")


class PartnerFactory(factory.django.DjangoModelFactory):
    """A third-party booking platform with its own service account."""

    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"合作挂号平台{n}")
    code = factory.Sequence(lambda n: f"partner-{n}")
    user = factory.SubFactory(UserFactory, name=factory.SelfAttribute("..name"))
