import pytest
from django.urls import reverse

from hospital.tests.factories import DepartmentFactory, DoctorFactory, HospitalFactory

pytestmark = pytest.mark.django_db


def test_home_page_lists_open_hospitals_in_chinese(client):
    HospitalFactory(name="市第一人民医院", code="city-first")
    HospitalFactory(name="已停止预约医院", is_active=False)
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "选择医院" in page
    assert "市第一人民医院" in page
    assert "已停止预约医院" not in page
    assert reverse("hospital_detail", args=["city-first"]) in page


def test_home_page_without_hospitals_says_so(client):
    assert "暂无开放预约的医院" in client.get("/").content.decode()


def test_home_page_queries_stay_fixed(client, django_assert_max_num_queries):
    for _ in range(5):
        DoctorFactory()
    with django_assert_max_num_queries(3):
        client.get("/")


def test_hospital_page_shows_departments_and_doctors(client):
    hospital = HospitalFactory(name="市第一人民医院", code="city-first")
    internal = DepartmentFactory(hospital=hospital, name="内科")
    cardiology = DepartmentFactory(parent=internal, name="心血管内科")
    DoctorFactory(hospital=hospital, name="王建国", title="chief", departments=[cardiology], specialty="冠心病")
    DoctorFactory(hospital=hospital, name="停诊医生", is_active=False, departments=[cardiology])
    DoctorFactory(name="别院医生")

    response = client.get(reverse("hospital_detail", args=["city-first"]))
    assert response.status_code == 200
    page = response.content.decode()
    for text in ["市第一人民医院", "内科", "心血管内科", "王建国", "主任医师", "冠心病", "¥50.00"]:
        assert text in page
    assert "停诊医生" not in page
    assert "别院医生" not in page


@pytest.mark.parametrize("path", ["/hospitals/nonexistent/", "/hospitals/%E4%B8%AD%E6%96%87/", "/hospitals/"])
def test_unknown_hospital_is_404(client, path):
    HospitalFactory(code="city-first")
    assert client.get(path).status_code == 404


def test_not_found_page_is_in_chinese(client):
    response = client.get("/hospitals/nonexistent/")
    assert "页面不存在" in response.content.decode()


def test_closed_hospital_is_404(client):
    HospitalFactory(code="closed", is_active=False)
    assert client.get("/hospitals/closed/").status_code == 404


def test_admin_login_page_answers(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "手机号" in response.content.decode() or "用户名" in response.content.decode()


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_request_login_code"])
def test_account_pages_use_the_site_layout(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/static/css/site.css"' in page
    assert "手机号" in page


def test_hospital_page_states_the_hospitals_booking_rules(client):
    from hospital.tests.factories import BookingRulesFactory

    rules = BookingRulesFactory(days_ahead=14, payment_timeout_minutes=15, cancel_deadline_minutes=90)
    page = client.get(reverse("hospital_detail", args=[rules.hospital.code])).content.decode()
    assert "每日 15:00 放号，可预约未来 14 天的号源" in page
    assert "15 分钟内完成支付" in page
    assert "就诊前 90 分钟" in page


def test_hospital_page_queries_stay_fixed(client, django_assert_max_num_queries):
    hospital = HospitalFactory(code="city-first")
    for _ in range(5):
        DoctorFactory(hospital=hospital)
    with django_assert_max_num_queries(6):
        client.get("/hospitals/city-first/")
