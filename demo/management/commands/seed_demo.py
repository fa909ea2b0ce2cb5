"""Demo data for `make run`: two hospitals, their departments and doctors, two weeks of
schedules, a patient with two 就诊人, one admin per hospital and a superuser.

Idempotent: every row is found by its natural key first, so running it again changes
nothing but the schedule horizon (two weeks from the day it runs).

Development only: it (re)sets known passwords, a superuser's among them, so it refuses to run
with DEBUG off.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.id_numbers import check_digit
from accounts.models import Partner, Patient, User
from hospital.models import BookingRules, Department, Doctor, Hospital, HospitalStaff
from hospital.roles import assign_staff_role, sync_role_groups
from partners.models import HospitalGrant, PartnerAPIKey
from scheduling.models import PERIOD_HOURS, AllocationPolicy, Period, ScheduleTemplate
from scheduling.services import generate_schedules

SCHEDULE_DAYS = 14

FEES_FEN = {
    Doctor.Title.CHIEF: 5000,
    Doctor.Title.ASSOCIATE_CHIEF: 3000,
    Doctor.Title.ATTENDING: 2000,
    Doctor.Title.RESIDENT: 1000,
}

MON, TUE, WED, THU, FRI, SAT = range(6)
AM, PM = Period.MORNING, Period.AFTERNOON
LOTTERY, PRIORITY = AllocationPolicy.LOTTERY, AllocationPolicy.PRIORITY


@dataclass(frozen=True)
class DemoLogin:
    role: str
    phone: str
    password: str


@dataclass(frozen=True)
class DemoDoctor:
    name: str
    title: str
    department: str  # "内科/心血管内科" or "儿科"
    specialty: str
    intro: str
    # (weekday, period, places per segment[, allocation policy])
    sessions: tuple


HOSPITALS = [
    {
        "code": "city-first",
        "name": "市第一人民医院",
        "level": Hospital.Level.GRADE_3A,
        "address": "解放路 88 号",
        "phone": "0571-87000120",
        "description": "综合性三级甲等医院，设内科、外科、儿科、妇产科、眼科等临床科室。（演示数据）",
        "departments": {
            "内科": ["心血管内科", "呼吸内科", "消化内科", "内分泌科"],
            "外科": ["普外科", "骨科", "泌尿外科"],
            "儿科": [],
            "妇产科": [],
            "眼科": [],
        },
        "doctors": [
            DemoDoctor(
                "王建国", Doctor.Title.CHIEF, "内科/心血管内科",
                "冠心病、高血压、心力衰竭的诊治及介入治疗",
                "从事心血管内科临床工作三十余年，擅长复杂冠脉病变的介入治疗。",
                ((MON, AM, 4), (WED, AM, 4, LOTTERY)),
            ),
            DemoDoctor(
                "陈丽华", Doctor.Title.ASSOCIATE_CHIEF, "内科/心血管内科",
                "心律失常、心肌病、高脂血症",
                "长期从事心律失常的临床诊治，熟练开展动态心电图评估。",
                ((TUE, AM, 5), (THU, PM, 5)),
            ),
            DemoDoctor(
                "刘志强", Doctor.Title.ATTENDING, "内科/呼吸内科",
                "慢性阻塞性肺疾病、哮喘、肺部感染",
                "擅长呼吸系统常见病、多发病的规范化诊治及肺功能评估。",
                ((MON, PM, 6), (FRI, AM, 6)),
            ),
            DemoDoctor(
                "赵敏", Doctor.Title.CHIEF, "内科/消化内科",
                "胃肠道早癌筛查、消化内镜诊疗、炎症性肠病",
                "消化内科学科带头人，完成消化内镜诊疗逾万例。",
                ((TUE, AM, 4), (THU, AM, 4)),
            ),
            DemoDoctor(
                "孙伟", Doctor.Title.ASSOCIATE_CHIEF, "外科/骨科",
                "关节置换、运动损伤、脊柱退行性疾病",
                "擅长膝、髋关节置换及关节镜微创手术。",
                ((WED, PM, 5), (SAT, AM, 5)),
            ),
            DemoDoctor(
                "周海涛", Doctor.Title.ATTENDING, "外科/普外科",
                "甲状腺、乳腺、疝及胆囊疾病的外科治疗",
                "擅长腹腔镜微创手术，注重围手术期管理。",
                ((MON, AM, 6), (THU, PM, 6)),
            ),
            DemoDoctor(
                "吴静", Doctor.Title.RESIDENT, "儿科",
                "儿童发热、咳嗽、腹泻等常见病",
                "儿科住院医师，耐心细致，擅长儿童常见病的诊治与护理指导。",
                ((MON, AM, 6), (TUE, PM, 6), (SAT, AM, 6, PRIORITY)),
            ),
        ],
        "department_rules": None,
    },
    {
        "code": "city-maternal-child",
        "name": "市妇幼保健院",
        "level": Hospital.Level.GRADE_3A,
        "address": "健康路 26 号",
        "phone": "0571-87000999",
        "description": "妇女儿童专科医院，提供孕产保健、妇科、儿科和儿童保健服务。（演示数据）",
        "departments": {
            "妇科": [],
            "产科": [],
            "儿科": ["儿童呼吸科", "儿童消化科", "新生儿科"],
            "儿童保健科": [],
        },
        "doctors": [
            DemoDoctor(
                "李秀英", Doctor.Title.CHIEF, "产科",
                "高危妊娠管理、产前诊断",
                "从事产科临床工作二十余年，擅长妊娠期高血压、妊娠期糖尿病的管理。",
                ((MON, AM, 4), (THU, AM, 4, LOTTERY)),
            ),
            DemoDoctor(
                "张慧", Doctor.Title.ATTENDING, "妇科",
                "月经失调、妇科炎症、宫颈病变筛查",
                "擅长妇科常见病的规范诊治和宫颈癌筛查。",
                ((TUE, AM, 6), (FRI, PM, 6)),
            ),
            DemoDoctor(
                "黄晓东", Doctor.Title.ASSOCIATE_CHIEF, "儿科/儿童呼吸科",
                "儿童哮喘、反复呼吸道感染",
                "擅长儿童哮喘的长期规范管理及雾化治疗指导。",
                ((WED, AM, 5, PRIORITY), (SAT, AM, 5)),
            ),
            DemoDoctor(
                "林芳", Doctor.Title.ATTENDING, "儿科/儿童消化科",
                "小儿腹泻、便秘、功能性胃肠病",
                "擅长儿童消化系统疾病及营养问题的诊治。",
                ((MON, PM, 6), (THU, PM, 6)),
            ),
            DemoDoctor(
                "郑宇", Doctor.Title.RESIDENT, "儿童保健科",
                "儿童生长发育评估、预防接种咨询",
                "从事儿童保健工作，擅长婴幼儿喂养与生长发育指导。",
                ((TUE, PM, 6), (FRI, AM, 6)),
            ),
        ],
        # 产科 books further ahead and releases in the morning.
        "department_rules": ("产科", {"days_ahead": 14, "release_time": datetime.time(8, 0)}),
    },
]  # fmt: skip

DEMO_PASSWORD = "demo12345"
PATIENT_PHONE = "13800138000"
STAFF_PASSWORD = "staff12345"
STAFF_PHONES = {"city-first": "13900000001", "city-maternal-child": "13900000002"}
STAFF_NAMES = {"city-first": "钱管理", "city-maternal-child": "冯管理"}
# The first hospital's window (挂号窗口) and one of its doctors (医生 role: the desk's doctor screen).
DESK_PHONES = {"front_desk": "13900000011", "doctor": "13900000012"}
SUPERUSER_PHONE = "13900000000"
SUPERUSER_PASSWORD = "admin12345"
# The demo partner platform's API key (X-Api-Key), fixed so the README's examples work as written.
DEMO_PARTNER_KEY = "demopart.DemoPartnerKey-NotForProduction0"
DEMO_PARTNER_PHONE = "13900000088"


def ensure_user(*, phone: str, password: str, name: str, **flags) -> User:
    try:
        user = User.objects.get_by_phone(phone)
    except User.DoesNotExist:
        return User.objects.create_user(phone, password, name=name, phone_verified=True, **flags)
    changed = [field for field, value in {"name": name, **flags}.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, {"name": name, **flags}[field])
    if not user.check_password(password):
        user.set_password(password)
        changed.append("password")
    if changed:
        user.save(update_fields=changed)
    return user


def demo_resident_id(*, birth_date: datetime.date, sequence: str) -> str:
    """A checksum-correct 居民身份证 number (address code 110101, 北京市东城区).

    The last digit of `sequence` is odd for a man, even for a woman.
    """
    first17 = f"110101{birth_date:%Y%m%d}{sequence}"
    return first17 + check_digit(first17)


def ensure_patient(*, user: User, name: str, relation: str, birth_date: datetime.date, gender: str, sequence: str):
    number = demo_resident_id(birth_date=birth_date, sequence=sequence)
    key = Patient.document_hash(Patient.IdType.RESIDENT_ID, number)
    patient = Patient.objects.filter(user=user, id_number_hash=key, is_active=True).first()
    if patient is not None:
        return patient
    patient = Patient(
        user=user, name=name, relation=relation, birth_date=birth_date, gender=gender, id_number=number,
        phone=user.phone,
    )  # fmt: skip
    patient.full_clean()
    patient.save()
    return patient


# Each demo department's standard type (hospital.models.DepartmentKind), which 导诊 searches by.
DEMO_DEPARTMENT_KINDS = {
    "内科": "internal", "心血管内科": "cardiology", "呼吸内科": "respiratory", "消化内科": "gastroenterology",
    "内分泌科": "endocrinology", "外科": "surgery", "普外科": "surgery", "骨科": "orthopedics", "泌尿外科": "urology",
    "儿科": "pediatrics", "儿童呼吸科": "pediatrics", "儿童消化科": "pediatrics", "新生儿科": "pediatrics",
    "儿童保健科": "pediatrics", "妇产科": "obgyn", "妇科": "gynecology", "产科": "obstetrics", "眼科": "ophthalmology",
}  # fmt: skip


def ensure_departments(hospital: Hospital, tree: dict[str, list[str]]) -> dict[str, Department]:
    """Returns departments by path ("内科" and "内科/心血管内科")."""
    by_path = {}
    for top_order, (top_name, children) in enumerate(tree.items(), start=1):
        top, _created = Department.objects.update_or_create(
            hospital=hospital,
            parent=None,
            name=top_name,
            defaults={
                "sort_order": top_order * 10,
                "location": f"门诊楼{top_order}层",
                "kind": DEMO_DEPARTMENT_KINDS.get(top_name, ""),
            },
        )
        by_path[top_name] = top
        for child_order, child_name in enumerate(children, start=1):
            child, _created = Department.objects.update_or_create(
                hospital=hospital,
                parent=top,
                name=child_name,
                defaults={
                    "sort_order": child_order * 10,
                    "location": f"门诊楼{top_order}层{'ABCDEF'[child_order - 1]}区",
                    "kind": DEMO_DEPARTMENT_KINDS.get(child_name, ""),
                },
            )
            by_path[f"{top_name}/{child_name}"] = child
    return by_path


def ensure_doctor(hospital: Hospital, department: Department, spec: DemoDoctor) -> Doctor:
    doctor, _created = Doctor.objects.update_or_create(
        hospital=hospital,
        name=spec.name,
        defaults={
            "title": spec.title,
            "specialty": spec.specialty,
            "intro": spec.intro,
            "registration_fee_fen": FEES_FEN[spec.title],
        },
    )
    doctor.departments.set([department])
    for session in spec.sessions:
        weekday, period, places = session[:3]
        policy = session[3] if len(session) > 3 else AllocationPolicy.FCFS
        start_time, end_time = PERIOD_HOURS[period]
        ScheduleTemplate.objects.update_or_create(
            doctor=doctor,
            weekday=weekday,
            period=period,
            defaults={
                "department": department,
                "start_time": start_time,
                "end_time": end_time,
                "segment_minutes": 30,
                "places_per_segment": places,
                "allocation_policy": policy,
            },
        )
    return doctor


def ensure_rules(hospital: Hospital, departments: dict[str, Department], override) -> None:
    # get_or_create, not update_or_create: every save of a rules row bumps its version.
    BookingRules.objects.get_or_create(hospital=hospital, department=None, doctor=None)
    if override is not None:
        path, values = override
        BookingRules.objects.get_or_create(
            hospital=hospital, department=departments[path], doctor=None, defaults=values
        )


def ensure_demo_partner(*, granted_by: User) -> Partner:
    """演示挂号平台: one partner with the fixed demo key, granted by every demo hospital."""
    try:
        user = User.objects.get_by_phone(DEMO_PARTNER_PHONE)
    except User.DoesNotExist:  # a service account: no password, nobody logs in with it
        user = User.objects.create_user(DEMO_PARTNER_PHONE, None, name="演示挂号平台")
    partner, _created = Partner.objects.update_or_create(
        code="demo-platform", defaults={"name": "演示挂号平台", "user": user, "is_active": True}
    )
    prefix, _dot, _secret = DEMO_PARTNER_KEY.partition(".")
    if not PartnerAPIKey.objects.filter(prefix=prefix).exists():
        hashed = PartnerAPIKey.objects.key_generator.hash(DEMO_PARTNER_KEY)
        PartnerAPIKey.objects.create(
            id=f"{prefix}.{hashed}", prefix=prefix, hashed_key=hashed, name="演示密钥", partner=partner
        )
    for spec in HOSPITALS:
        hospital = Hospital.objects.get(code=spec["code"])
        if not HospitalGrant.objects.filter(partner=partner, hospital=hospital, revoked_at__isnull=True).exists():
            HospitalGrant.objects.create(partner=partner, hospital=hospital, granted_by=granted_by)
    return partner


class Command(BaseCommand):
    help = "载入演示数据（可重复执行）：两家医院、科室、医生、排班、演示患者和管理员账号。"

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                _("seed_demo 仅用于开发环境：它会设置公开的演示密码（包括超级管理员）。DJANGO_DEBUG 关闭时拒绝运行。")
            )
        today = timezone.localdate()
        with transaction.atomic():
            logins = self.seed(today)
        self.report(logins)

    def seed(self, today: datetime.date) -> list[DemoLogin]:
        sync_role_groups()
        logins = []
        for spec in HOSPITALS:
            hospital, _created = Hospital.objects.update_or_create(
                code=spec["code"],
                defaults={key: spec[key] for key in ("name", "level", "address", "phone", "description")},
            )
            departments = ensure_departments(hospital, spec["departments"])
            ensure_rules(hospital, departments, spec["department_rules"])
            for doctor in spec["doctors"]:
                ensure_doctor(hospital, departments[doctor.department], doctor)
            created = generate_schedules(hospital=hospital, start_date=today, days=SCHEDULE_DAYS)
            self.stdout.write(f"{hospital.name}：新建出诊排班 {created} 个")

            staff = ensure_user(
                phone=STAFF_PHONES[spec["code"]], password=STAFF_PASSWORD, name=STAFF_NAMES[spec["code"]],
                is_staff=True,
            )  # fmt: skip
            assign_staff_role(user=staff, hospital=hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN)
            logins.append(DemoLogin(f"{hospital.name} 管理员", staff.phone, STAFF_PASSWORD))
            if spec is HOSPITALS[0]:
                logins += self.seed_desk_logins(hospital)

        patient_user = ensure_user(phone=PATIENT_PHONE, password=DEMO_PASSWORD, name="张三")
        ensure_patient(
            user=patient_user, name="张三", relation=Patient.Relation.SELF,
            birth_date=datetime.date(1990, 3, 7), gender=Patient.Gender.MALE, sequence="123",
        )  # fmt: skip
        ensure_patient(
            user=patient_user, name="张小雨", relation=Patient.Relation.CHILD,
            birth_date=datetime.date(2016, 5, 20), gender=Patient.Gender.FEMALE, sequence="024",
        )  # fmt: skip
        logins.insert(0, DemoLogin("患者 张三", PATIENT_PHONE, DEMO_PASSWORD))

        superuser = ensure_user(
            phone=SUPERUSER_PHONE, password=SUPERUSER_PASSWORD, name="系统管理员", is_staff=True, is_superuser=True
        )
        logins.append(DemoLogin("超级管理员", SUPERUSER_PHONE, SUPERUSER_PASSWORD))
        ensure_demo_partner(granted_by=superuser)
        return logins

    def seed_desk_logins(self, hospital: Hospital) -> list[DemoLogin]:
        """A front-desk login and a doctor login for the desk (/desk/)."""
        front_desk = ensure_user(phone=DESK_PHONES["front_desk"], password=STAFF_PASSWORD, name="周窗口", is_staff=True)
        assign_staff_role(user=front_desk, hospital=hospital, role=HospitalStaff.Role.FRONT_DESK)
        doctor = Doctor.objects.filter(hospital=hospital).order_by("pk").first()
        doctor_user = ensure_user(phone=DESK_PHONES["doctor"], password=STAFF_PASSWORD, name=doctor.name, is_staff=True)
        assign_staff_role(user=doctor_user, hospital=hospital, role=HospitalStaff.Role.DOCTOR, doctor=doctor)
        return [
            DemoLogin(f"{hospital.name} 挂号窗口", front_desk.phone, STAFF_PASSWORD),
            DemoLogin(f"{hospital.name} 医生 {doctor.name}", doctor_user.phone, STAFF_PASSWORD),
        ]

    def report(self, logins: list[DemoLogin]) -> None:
        site = settings.SITE_URL.rstrip("/")
        lines = [
            "",
            "演示数据已就绪。",
            f"  网站首页：  {site}/",
            f"  管理后台：  {site}/admin/",
            f"  医院工作台：{site}/desk/ （窗口挂号、今日就诊、医生诊间预约）",
            "  演示账号（手机号 / 密码）：",
            *[f"    {login.role}：{login.phone} / {login.password}" for login in logins],
            "  患者在网页上用密码或短信验证码登录；开发环境不发短信，验证码打印在 worker 日志（SMS to …）里。",
            "  同一密码也用于管理后台和 App 接口（/_allauth/app/v1/auth/login）。",
            f"  合作平台接口：{site}/api/partner/v1/ ，演示挂号平台的密钥（X-Api-Key）：{DEMO_PARTNER_KEY}",
            "",
        ]
        self.stdout.write("\n".join(lines))
