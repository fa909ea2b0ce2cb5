"""One hospital to browse in page and browser tests: a department tree, two doctors, sessions in
every state a patient meets (released first-come-first-served, a lottery, not yet released) and a
导诊 keyword pointing at the department."""

import datetime
from types import SimpleNamespace

from django.utils import timezone

from hospital.models import DepartmentKind, Doctor, TriageKeyword
from hospital.tests.factories import BookingRulesFactory, DepartmentFactory, DoctorFactory, HospitalFactory
from scheduling.models import AllocationPolicy, Period, Schedule
from scheduling.tests.factories import make_session


def hospital_to_browse(*, code: str = "city-first") -> SimpleNamespace:
    today = timezone.localdate()
    hospital = HospitalFactory(name="市第一人民医院", code=code, phone="0571-87001234", address="人民路1号")
    rules = BookingRulesFactory(hospital=hospital, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    internal = DepartmentFactory(hospital=hospital, name="内科", kind=DepartmentKind.INTERNAL, location="门诊楼2层")
    neurology = DepartmentFactory(parent=internal, name="神经内科", kind=DepartmentKind.NEUROLOGY)
    doctor = DoctorFactory(
        hospital=hospital, name="王明", title=Doctor.Title.CHIEF, specialty="头痛、眩晕、失眠", departments=[neurology]
    )
    colleague = DoctorFactory(hospital=hospital, name="李华", departments=[neurology])
    TriageKeyword.objects.get_or_create(
        keyword="头疼", department_kind=DepartmentKind.NEUROLOGY, defaults={"weight": 5}
    )
    soon = make_session(doctor=doctor, date=today + datetime.timedelta(days=1), segments=4, places=3)
    lottery = make_session(
        doctor=doctor,
        date=today + datetime.timedelta(days=2),
        period=Period.AFTERNOON,
        segments=2,
        places=2,
        policy=AllocationPolicy.LOTTERY,
    )
    Schedule.objects.filter(pk=lottery.pk).update(request_closes_at=timezone.now() + datetime.timedelta(hours=20))
    lottery.refresh_from_db()
    later = make_session(doctor=doctor, date=today + datetime.timedelta(days=rules.days_ahead), segments=2)
    Schedule.objects.filter(pk=later.pk).update(release_at=timezone.now() + datetime.timedelta(days=1))
    colleague_session = make_session(doctor=colleague, date=today + datetime.timedelta(days=1), segments=2, places=2)
    return SimpleNamespace(
        hospital=hospital,
        rules=rules,
        internal=internal,
        neurology=neurology,
        doctor=doctor,
        colleague=colleague,
        soon=soon,
        lottery=lottery,
        later=later,
        colleague_session=colleague_session,
    )
