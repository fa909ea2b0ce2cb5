"""Account pages: the profile, 就诊人 (list, add, edit, remove) and the 长辈模式 switch."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Patient
from accounts.tests.factories import PatientFactory, UserFactory, resident_id_number
from booking.services import book_slot
from hospital.tests.factories import BookingRulesFactory, DoctorFactory
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

BORN = datetime.date(1960, 5, 17)


@pytest.fixture
def member(client):
    user = UserFactory(phone="13800138000")
    client.force_login(user)
    return user


def new_patient_form(**overrides):
    data = {
        "name": "刘秀英",
        "relation": "parent",
        "id_type": "resident_id",
        "id_number": resident_id_number(birth_date=BORN, gender="F"),
        "gender": "F",
        "birth_date": BORN.isoformat(),
        "phone": "",
    }
    return data | overrides


def test_pages_of_an_account_need_a_login(client):
    for url in ("/me/", "/patients/", "/patients/new/", "/patients/1/edit/", "/patients/1/delete/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_profile_shows_the_masked_phone_and_the_way_to_everything(client, member):
    page = client.get("/me/").content.decode()
    assert "138****8000" in page
    assert "13800138000" not in page
    for href in ("/appointments/", "/patients/", "/alerts/", "/me/penalties/", reverse("account_change_password")):
        assert f'href="{href}"' in page


def test_profile_offers_to_set_a_password_when_signed_up_by_sms(client):
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    assert f'href="{reverse("account_set_password")}"' in client.get("/me/").content.decode()


def test_list_shows_only_this_accounts_patients_with_masked_documents(client, member):
    mine = PatientFactory(user=member, name="刘秀英")
    PatientFactory(user=UserFactory(), name="别人家")
    page = client.get("/patients/").content.decode()
    assert "刘秀英" in page
    assert "别人家" not in page
    assert mine.id_number not in page
    assert mine.masked_id_number in page


def test_list_costs_the_same_queries_for_one_or_many(client, member, django_assert_max_num_queries):
    PatientFactory(user=member)
    with django_assert_max_num_queries(4) as one:
        client.get("/patients/")
    PatientFactory.create_batch(6, user=member)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get("/patients/").status_code == 200


def test_adding_a_patient_validates_the_real_name_and_goes_back_to_next(client, member):
    response = client.post("/patients/new/?next=/book/7/", new_patient_form())
    assert response.status_code == 302
    assert response["Location"] == "/book/7/"
    patient = Patient.objects.get(user=member)
    assert (patient.name, patient.birth_date, patient.has_real_name) == ("刘秀英", BORN, True)


def test_an_unsafe_next_is_ignored(client, member):
    response = client.post("/patients/new/?next=https://evil.example/", new_patient_form())
    assert response["Location"] == reverse("patient_list")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"id_number": "110101196005170000"}, "id_number", "校验"),
        ({"birth_date": "1961-05-17"}, "birth_date", "出生日期与身份证号码不一致"),
        ({"gender": "M"}, "gender", "性别与身份证号码"),
        ({"birth_date": "not a date"}, "birth_date", "日期"),
    ],
)
def test_a_wrong_identity_is_a_message_on_its_field(client, member, overrides, field, words):
    response = client.post("/patients/new/", new_patient_form(**overrides))
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors[field])
    assert not Patient.objects.exists()


def test_the_same_person_twice_is_a_message_not_an_error_page(client, member):
    client.post("/patients/new/", new_patient_form())
    response = client.post("/patients/new/", new_patient_form())
    assert response.status_code == 200
    assert "已在此账户中" in response.content.decode()
    assert Patient.objects.count() == 1


def test_a_real_named_patient_changes_contact_details_only(client, member):
    patient = PatientFactory(user=member, name="刘秀英", phone="")
    page = client.get(f"/patients/{patient.pk}/edit/").content.decode()
    assert 'name="name"' not in page
    assert patient.id_number not in page
    response = client.post(
        f"/patients/{patient.pk}/edit/", {"relation": "parent", "phone": "13911112222", "name": "改名字"}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.name, patient.phone, patient.relation) == ("刘秀英", "13911112222", "parent")


@pytest.mark.parametrize("action", ["edit", "delete"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_accounts_patient_is_a_404(client, member, action, method):
    theirs = PatientFactory(user=UserFactory())
    response = getattr(client, method)(f"/patients/{theirs.pk}/{action}/", {"relation": "self"})
    assert response.status_code == 404
    assert Patient.objects.get(pk=theirs.pk).is_active


def test_a_patient_never_used_is_removed(client, member):
    patient = PatientFactory(user=member)
    assert "确认删除" in client.get(f"/patients/{patient.pk}/delete/").content.decode()
    response = client.post(f"/patients/{patient.pk}/delete/", follow=True)
    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert "已删除就诊人" in response.content.decode()


def test_a_patient_with_an_appointment_under_way_stays_with_a_message(client, member):
    patient = PatientFactory(user=member)
    doctor = DoctorFactory()
    BookingRulesFactory(hospital=doctor.hospital, online_share=100, partner_share=0, window_share=0, clinic_share=0)
    book_slot(user=member, patient=patient, slot=make_session(doctor=doctor).slots.get())
    response = client.post(f"/patients/{patient.pk}/delete/", follow=True)
    assert "还有未完成的预约" in response.content.decode()
    assert Patient.objects.get(pk=patient.pk).is_active


@pytest.mark.parametrize("url", ["/patients/new/", "/elderly/", "/patients/1/delete/"])
def test_posts_need_the_csrf_token(url):
    user = UserFactory()
    PatientFactory(user=user, id=1)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(url, new_patient_form()).status_code == 403
    assert Patient.objects.filter(pk=1).exists()


# 长辈模式 -----------------------------------------------------------------------------------------


def body_is_elderly(client, url="/") -> bool:
    return 'class="elderly"' in client.get(url).content.decode()


def test_the_switch_is_on_every_page_and_remembered_by_the_browser(client):
    assert "长辈模式" in client.get("/").content.decode()
    assert not body_is_elderly(client)
    response = client.post("/elderly/", {"on": "1", "next": "/search/"})
    assert response["Location"] == "/search/"
    assert response.cookies["elderly_mode"].value == "1"
    assert body_is_elderly(client, "/search/")
    client.post("/elderly/", {"on": "0", "next": "/"})
    assert not body_is_elderly(client)


def test_the_switch_is_remembered_on_the_account_and_follows_it(client, member):
    client.post("/elderly/", {"on": "1", "next": "/"})
    member.refresh_from_db()
    assert member.elderly_mode
    elsewhere = Client()
    elsewhere.force_login(member)
    assert body_is_elderly(elsewhere)
    elsewhere.post("/elderly/", {"on": "0"})
    member.refresh_from_db()
    assert not member.elderly_mode
    assert not body_is_elderly(elsewhere)


def test_the_switch_never_redirects_off_site(client):
    assert client.post("/elderly/", {"next": "https://evil.example/"})["Location"] == "/"
