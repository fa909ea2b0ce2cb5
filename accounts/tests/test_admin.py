import pytest

from accounts.models import Patient
from accounts.tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010119850103123X"


def patient_form(user, **overrides):
    data = {
        "user": user.pk,
        "name": "李四",
        "gender": "M",
        "birth_date": "1985-01-03",
        "relation": "self",
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "phone": "13812345678",
        "is_active": "on",
    }
    return data | overrides


def test_admin_adds_a_patient_with_a_valid_id(admin_client):
    owner = UserFactory()
    response = admin_client.post("/admin/accounts/patient/add/", patient_form(owner))
    assert response.status_code == 302
    key = Patient.document_hash("resident_id", ID_NUMBER)
    assert Patient.objects.get(id_number_hash=key).user == owner


def test_admin_form_says_which_part_of_the_id_is_wrong(admin_client):
    response = admin_client.post(
        "/admin/accounts/patient/add/", patient_form(UserFactory(), id_number="110101198501031234")
    )
    assert response.status_code == 200
    assert "校验位（第18位）" in response.content.decode()
    assert not Patient.objects.exists()


def test_admin_form_refuses_a_birth_date_the_id_contradicts(admin_client):
    response = admin_client.post("/admin/accounts/patient/add/", patient_form(UserFactory(), birth_date="1985-01-04"))
    assert response.status_code == 200
    assert "出生日期与身份证号码不一致" in response.content.decode()


def test_admin_patient_list_shows_masked_numbers_only(admin_client):
    PatientFactory(id_number=ID_NUMBER, birth_date="1985-01-03", gender="M", phone="13812345678")
    page = admin_client.get("/admin/accounts/patient/").content.decode()
    assert "110***********123X" in page and "138****5678" in page
    assert ID_NUMBER not in page and "13812345678" not in page


def test_admin_finds_a_user_by_exact_phone(admin_client):
    UserFactory(phone="13812345678", name="王五")
    UserFactory(phone="13812345679", name="赵六")
    page = admin_client.get("/admin/accounts/user/", {"q": "138 1234 5678"}).content.decode()
    assert "王五" in page and "赵六" not in page


def test_admin_adds_a_user_by_phone(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/", {"phone": "+86 138 1234 5678", "name": "孙七", "password": "pw-12345678"}
    )
    assert response.status_code == 302
    from accounts.models import User

    assert User.objects.get_by_phone("13812345678").check_password("pw-12345678")


def test_admin_refuses_a_second_user_with_the_same_phone(admin_client):
    UserFactory(phone="13812345678")
    response = admin_client.post("/admin/accounts/user/add/", {"phone": "13812345678", "name": "重复"})
    assert response.status_code == 200
    assert "该手机号已注册" in response.content.decode()


def test_admin_refuses_a_malformed_phone(admin_client):
    response = admin_client.post("/admin/accounts/user/add/", {"phone": "12345", "name": "错号"})
    assert response.status_code == 200
    assert "中国大陆手机号码" in response.content.decode()
