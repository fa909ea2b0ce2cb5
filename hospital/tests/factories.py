"""factory_boy factories for hospitals, departments, doctors, booking rules and staff."""

import factory

from accounts.tests.factories import StaffUserFactory
from hospital.models import BookingRules, Department, Doctor, Hospital, HospitalStaff
from hospital.roles import assign_staff_role

TITLE_FEES_FEN = {
    Doctor.Title.CHIEF: 5000,
    Doctor.Title.ASSOCIATE_CHIEF: 3000,
    Doctor.Title.ATTENDING: 2000,
    Doctor.Title.RESIDENT: 1000,
}


class HospitalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hospital

    name = factory.Sequence(lambda n: f"第{n}人民医院")
    code = factory.Sequence(lambda n: f"hospital-{n}")
    level = Hospital.Level.GRADE_3A
    address = factory.Sequence(lambda n: f"人民路{n}号")
    phone = "0571-87000000"


class DepartmentFactory(factory.django.DjangoModelFactory):
    """A department; pass `parent=` for a sub-department (it inherits the parent's hospital)."""

    class Meta:
        model = Department

    parent = None
    hospital = factory.LazyAttribute(lambda o: o.parent.hospital if o.parent else HospitalFactory())
    name = factory.Sequence(lambda n: f"科室{n}")


class DoctorFactory(factory.django.DjangoModelFactory):
    """A doctor whose fee follows the title.

    Without `departments=[...]` the doctor gets one new department of the same hospital, so
    schedules and templates can be made for it at once; `departments=[]` gives none.
    """

    class Meta:
        model = Doctor
        skip_postgeneration_save = True

    hospital = factory.SubFactory(HospitalFactory)
    name = factory.Faker("name", locale="zh_CN")
    title = Doctor.Title.ATTENDING
    specialty = "常见病、多发病的诊治"
    registration_fee_fen = factory.LazyAttribute(lambda o: TITLE_FEES_FEN[o.title])

    @factory.post_generation
    def departments(self, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            extracted = [DepartmentFactory(hospital=self.hospital)]
        self.departments.set(extracted)


class BookingRulesFactory(factory.django.DjangoModelFactory):
    """The hospital-wide rules (model defaults); pass `department=` or `doctor=` for an override."""

    class Meta:
        model = BookingRules

    department = None
    doctor = None
    hospital = factory.LazyAttribute(
        lambda o: o.doctor.hospital if o.doctor else o.department.hospital if o.department else HospitalFactory()
    )


class HospitalStaffFactory(factory.django.DjangoModelFactory):
    """A staff user of one hospital, in the role's permission group (as the admin expects).

    `HospitalStaffFactory(role_permissions=False)` leaves the user without any permissions.
    """

    class Meta:
        model = HospitalStaff
        skip_postgeneration_save = True

    user = factory.SubFactory(StaffUserFactory)
    hospital = factory.SubFactory(HospitalFactory)
    role = HospitalStaff.Role.HOSPITAL_ADMIN
    # A doctor's account stands for a doctor of the same hospital.
    doctor = factory.LazyAttribute(
        lambda o: DoctorFactory(hospital=o.hospital) if o.role == HospitalStaff.Role.DOCTOR else None
    )

    @factory.post_generation
    def role_permissions(self, create, extracted, **kwargs):
        if create and extracted is not False:
            assign_staff_role(user=self.user, hospital=self.hospital, role=self.role, doctor=self.doctor)
