"""导诊: keywords → department types → this hospital's departments, ranked, with their next available day."""

import datetime
import importlib

import pytest
from django.utils import timezone

from hospital.models import DepartmentKind, HospitalStaff, TriageKeyword
from hospital.tests.factories import DepartmentFactory, DoctorFactory, HospitalFactory, HospitalStaffFactory
from hospital.triage import departments_for_symptom
from scheduling.models import Slot
from scheduling.tests.factories import make_session

NOTICE = "如遇胸痛、呼吸困难、大出血等紧急情况，请立即拨打120或前往急诊。"
URL = "/api/v1/departments/search/"
K = DepartmentKind


@pytest.fixture
def keywords(db):
    """A small table of our own (the seeded starter set is replaced, so these tests do not depend on it)."""
    TriageKeyword.objects.all().delete()
    rows = [
        ("胸闷", K.CARDIOLOGY, 4, None, None),
        ("胸闷", K.RESPIRATORY, 2, None, None),
        ("咳嗽", K.RESPIRATORY, 4, 14, None),
        ("咳嗽", K.PEDIATRICS, 4, None, 13),
        ("孩子发烧", K.PEDIATRICS, 6, None, None),
        ("发烧", K.INTERNAL, 3, 14, None),
        ("膝盖疼", K.ORTHOPEDICS, 5, None, None),
        ("头痛", K.NEUROLOGY, 4, None, None),
    ]
    for keyword, kind, weight, min_age, max_age in rows:
        TriageKeyword.objects.create(
            keyword=keyword, department_kind=kind, weight=weight, min_age=min_age, max_age=max_age
        )
    TriageKeyword.objects.create(keyword="头痛", department_kind=K.EMERGENCY, weight=9, is_active=False)


@pytest.fixture
def hospital(keywords):
    return HospitalFactory()


def department(hospital, kind, name=None, **fields):
    return DepartmentFactory(hospital=hospital, kind=kind, name=name or K(kind).label, **fields)


def names(answer):
    return [match.department.name for match in answer.results]


def test_departments_rank_by_the_summed_weights_of_matching_keywords(hospital):
    department(hospital, K.RESPIRATORY)
    department(hospital, K.CARDIOLOGY)
    department(hospital, K.ORTHOPEDICS)

    answer = departments_for_symptom(hospital_id=hospital.pk, text="最近老是胸闷")

    assert names(answer) == ["心血管内科", "呼吸内科"]
    assert [(m.score, m.keywords) for m in answer.results] == [(4, ["胸闷"]), (2, ["胸闷"])]
    assert answer.notice == NOTICE


def test_several_symptoms_add_up(hospital):
    department(hospital, K.RESPIRATORY)
    department(hospital, K.CARDIOLOGY)

    answer = departments_for_symptom(hospital_id=hospital.pk, text="胸闷，咳嗽", age=40)

    assert [(m.department.name, m.score) for m in answer.results] == [("呼吸内科", 6), ("心血管内科", 4)]


def test_the_age_hint_prefers_pediatrics_for_a_child(hospital):
    department(hospital, K.RESPIRATORY)
    department(hospital, K.PEDIATRICS)

    assert names(departments_for_symptom(hospital_id=hospital.pk, text="咳嗽", age=5)) == ["儿科"]
    assert names(departments_for_symptom(hospital_id=hospital.pk, text="咳嗽", age=14)) == ["呼吸内科"]
    assert set(names(departments_for_symptom(hospital_id=hospital.pk, text="咳嗽"))) == {"儿科", "呼吸内科"}


def test_a_child_named_in_the_text_goes_to_pediatrics(hospital):
    department(hospital, K.INTERNAL)
    department(hospital, K.PEDIATRICS)

    answer = departments_for_symptom(hospital_id=hospital.pk, text="孩子发烧三天了")

    assert names(answer) == ["儿科", "内科"]


def test_unknown_text_and_inactive_keywords_give_no_department_but_the_notice(hospital):
    department(hospital, K.EMERGENCY)

    for text in ["我想挂个号", "头痛"]:
        answer = departments_for_symptom(hospital_id=hospital.pk, text=text)
        assert answer.results == []
        assert answer.notice == NOTICE


def test_only_that_hospitals_open_departments_unless_none_is_given(hospital):
    department(hospital, K.ORTHOPEDICS)
    department(hospital, K.ORTHOPEDICS, name="关节外科", is_active=False)
    other = HospitalFactory()
    department(other, K.ORTHOPEDICS, name="运动医学科")
    department(HospitalFactory(is_active=False), K.ORTHOPEDICS, name="停业医院骨科")

    assert names(departments_for_symptom(hospital_id=hospital.pk, text="膝盖疼")) == ["骨科"]
    assert names(departments_for_symptom(text="膝盖疼")) == ["骨科", "运动医学科"]


def test_next_available_day_is_the_earliest_session_with_an_online_place_left(hospital):
    orthopedics = department(hospital, K.ORTHOPEDICS)
    doctor = DoctorFactory(hospital=hospital, departments=[orthopedics])
    today = timezone.localdate()
    full = make_session(doctor=doctor, date=today + datetime.timedelta(days=1), places=1)
    Slot.objects.filter(schedule=full).update(online_booked=1, booked=1)
    make_session(doctor=doctor, date=today + datetime.timedelta(days=2), status="draft", period="afternoon")
    make_session(doctor=doctor, date=today - datetime.timedelta(days=1))
    make_session(doctor=doctor, date=today + datetime.timedelta(days=4))
    make_session(doctor=doctor, date=today + datetime.timedelta(days=6))

    [match] = departments_for_symptom(hospital_id=hospital.pk, text="膝盖疼").results

    assert match.next_available_date == today + datetime.timedelta(days=4)


def test_equal_scores_rank_the_sooner_department_first(hospital):
    late = department(hospital, K.ORTHOPEDICS, name="骨科一")
    soon = department(hospital, K.ORTHOPEDICS, name="骨科二")
    department(hospital, K.ORTHOPEDICS, name="骨科三")
    today = timezone.localdate()
    make_session(doctor=DoctorFactory(hospital=hospital, departments=[late]), date=today + datetime.timedelta(days=5))
    make_session(doctor=DoctorFactory(hospital=hospital, departments=[soon]), date=today + datetime.timedelta(days=2))

    assert names(departments_for_symptom(hospital_id=hospital.pk, text="膝盖疼")) == ["骨科二", "骨科一", "骨科三"]


def test_the_starter_set_covers_the_common_symptoms_with_real_department_types():
    starter = importlib.import_module("hospital.migrations.0005_seed_triage_keywords").STARTER
    kinds = {kind for _keyword, kind, _weight, _ages in starter}
    assert kinds <= set(K.values)
    keywords = {keyword for keyword, *_rest in starter}
    assert {"胸闷", "胸痛", "发烧", "发热", "孩子发烧", "咳嗽", "膝盖疼", "腰疼", "头痛", "腹痛", "皮疹", "牙疼",
            "视力模糊", "月经不调", "怀孕"} <= keywords  # fmt: skip


# ---------------------------------------------------------------- API


def test_the_api_answers_ranked_departments_with_the_notice(client, hospital):
    cardiology = department(hospital, K.CARDIOLOGY)
    department(hospital, K.RESPIRATORY)
    session = make_session(doctor=DoctorFactory(hospital=hospital, departments=[cardiology]))

    response = client.get(URL, {"q": "胸闷", "hospital": hospital.pk, "age": 60})

    assert response.status_code == 200
    body = response.json()
    assert body["notice"] == NOTICE
    assert body["results"][0] == {
        "department_id": cardiology.pk,
        "department_name": "心血管内科",
        "department_kind": "cardiology",
        "department_kind_display": "心血管内科",
        "hospital_id": hospital.pk,
        "hospital_name": hospital.name,
        "score": 4,
        "keywords": ["胸闷"],
        "next_available_date": session.date.isoformat(),
    }
    assert body["results"][1]["next_available_date"] is None


def test_the_api_answers_an_empty_list_for_unknown_text(client, hospital):
    response = client.get(URL, {"q": "随便看看"})
    assert response.status_code == 200
    assert response.json() == {"notice": NOTICE, "results": []}


def test_the_api_is_public_even_with_a_stale_token(client, hospital):
    response = client.get(URL, {"q": "胸闷"}, headers={"X-Session-Token": "expired"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "胸" * 101}, {"q": "胸\x00闷"}, {"q": "胸闷", "age": "-1"}, {"q": "胸闷", "age": "abc"},
     {"q": "胸闷", "age": "151"}, {"q": "胸闷", "hospital": "abc"}, {"q": "胸闷", "hospital": "999999"}],
)  # fmt: skip
def test_bad_parameters_are_a_400_with_code_and_detail(client, hospital, params):
    response = client.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["detail"]


def test_a_closed_hospital_cannot_be_searched(client, keywords):
    closed = HospitalFactory(is_active=False)
    assert client.get(URL, {"q": "胸闷", "hospital": closed.pk}).status_code == 400


@pytest.mark.parametrize("size", [1, 6])
def test_the_api_query_count_is_fixed(client, hospital, django_assert_max_num_queries, size):
    for _ in range(size):
        cardiology = department(hospital, K.CARDIOLOGY, name=None)
        make_session(doctor=DoctorFactory(hospital=hospital, departments=[cardiology]))
        department(hospital, K.RESPIRATORY, name=None)

    with django_assert_max_num_queries(3):  # the hospital parameter, the keywords, the departments
        response = client.get(URL, {"q": "胸闷咳嗽", "hospital": hospital.pk})
    assert len(response.json()["results"]) == 2 * size


# ---------------------------------------------------------------- admin


def test_a_superuser_curates_the_keywords_in_the_admin(admin_client, keywords):
    response = admin_client.post(
        "/admin/hospital/triagekeyword/add/",
        {"keyword": "耳朵疼", "department_kind": K.ENT, "weight": 4, "min_age": "", "max_age": "", "is_active": "on"},
    )
    assert response.status_code == 302
    assert TriageKeyword.objects.filter(keyword="耳朵疼", department_kind=K.ENT).exists()
    assert admin_client.get("/admin/hospital/triagekeyword/").status_code == 200


def test_an_inverted_age_range_is_refused(admin_client, keywords):
    response = admin_client.post(
        "/admin/hospital/triagekeyword/add/",
        {"keyword": "耳朵疼", "department_kind": K.ENT, "weight": 4, "min_age": 20, "max_age": 10},
    )
    assert response.status_code == 200
    assert not TriageKeyword.objects.filter(keyword="耳朵疼").exists()


@pytest.mark.parametrize("role", list(HospitalStaff.Role))
def test_hospital_staff_cannot_reach_the_platform_wide_table(client, keywords, role):
    staff = HospitalStaffFactory(role=role)
    client.force_login(staff.user)

    assert client.get("/admin/hospital/triagekeyword/").status_code == 403
    assert client.get("/admin/hospital/triagekeyword/add/").status_code == 403
    assert client.get("/admin/hospital/department/").status_code in {200, 403}


def test_the_demo_hospitals_answer_with_the_starter_keywords(db, settings):
    from django.apps import apps
    from django.core.management import call_command

    settings.DEBUG = True  # seed_demo runs only in development
    TriageKeyword.objects.all().delete()
    importlib.import_module("hospital.migrations.0005_seed_triage_keywords").seed(apps, None)
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    chest = departments_for_symptom(text="胸闷", age=50).results
    assert chest[0].department.name == "心血管内科"
    assert chest[0].next_available_date is not None
    child = departments_for_symptom(text="咳嗽", age=6).results
    assert {match.department.kind for match in child} == {K.PEDIATRICS}
    assert departments_for_symptom(text="怀孕").results[0].department.name in {"产科", "妇产科"}


def test_the_published_status_it_reads_is_schedulings():
    from hospital import triage
    from scheduling.models import Schedule

    assert triage.PUBLISHED == Schedule.Status.PUBLISHED
