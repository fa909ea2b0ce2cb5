import pytest


@pytest.mark.django_db
def test_home_page_answers_in_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "选择医院" in response.content.decode()


@pytest.mark.django_db
def test_admin_login_page_answers(client):
    assert client.get("/admin/login/").status_code == 200
