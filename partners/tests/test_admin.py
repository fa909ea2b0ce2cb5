"""Grants in the admin: a hospital's admins allow and withdraw partners for their own hospital;
superusers create keys, shown once."""

import pytest
from django.contrib.messages import get_messages

from accounts.tests.factories import PartnerFactory, SuperUserFactory
from hospital.models import HospitalStaff
from hospital.tests.factories import HospitalFactory, HospitalStaffFactory
from partners import errors, services
from partners.models import HospitalGrant, PartnerAPIKey

pytestmark = pytest.mark.django_db

GRANTS = "/admin/partners/hospitalgrant/"


@pytest.fixture
def hospital():
    return HospitalFactory(name="甲医院")


@pytest.fixture
def hospital_admin(hospital):
    return HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.HOSPITAL_ADMIN).user


def test_a_hospital_admin_grants_their_hospital(client, hospital, hospital_admin):
    partner = PartnerFactory()
    client.force_login(hospital_admin)
    page = client.get(f"{GRANTS}add/")
    assert page.status_code == 200
    assert partner.name in page.content.decode()
    response = client.post(f"{GRANTS}add/", {"partner": partner.pk, "hospital": hospital.pk})
    assert response.status_code == 302, response.context["adminform"].form.errors
    grant = HospitalGrant.objects.get()
    assert (grant.partner, grant.hospital, grant.granted_by, grant.revoked_at) == (
        partner,
        hospital,
        hospital_admin,
        None,
    )


def test_a_hospital_admin_cannot_grant_another_hospital(client, hospital_admin):
    other = HospitalFactory(name="乙医院")
    client.force_login(hospital_admin)
    response = client.post(f"{GRANTS}add/", {"partner": PartnerFactory().pk, "hospital": other.pk})
    assert response.status_code == 200
    assert "hospital" in response.context["adminform"].form.errors
    assert not HospitalGrant.objects.exists()
    with pytest.raises(errors.GrantRefused):
        services.grant_hospital(partner=PartnerFactory(), hospital=other, by=hospital_admin)


def test_other_roles_cannot_grant(client, hospital):
    scheduler = HospitalStaffFactory(hospital=hospital, role=HospitalStaff.Role.SCHEDULER).user
    client.force_login(scheduler)
    assert client.get(f"{GRANTS}add/").status_code == 403
    with pytest.raises(errors.GrantRefused):
        services.grant_hospital(partner=PartnerFactory(), hospital=hospital, by=scheduler)


def test_granting_twice_is_refused(hospital, hospital_admin):
    partner = PartnerFactory()
    services.grant_hospital(partner=partner, hospital=hospital, by=hospital_admin)
    with pytest.raises(errors.AlreadyGranted):
        services.grant_hospital(partner=partner, hospital=hospital, by=hospital_admin)


def test_revoking_in_the_admin_touches_only_our_hospitals_grants(client, hospital, hospital_admin):
    partner = PartnerFactory()
    ours = services.grant_hospital(partner=partner, hospital=hospital, by=hospital_admin)
    theirs = services.grant_hospital(partner=partner, hospital=HospitalFactory(), by=SuperUserFactory())
    client.force_login(hospital_admin)
    response = client.post(GRANTS, {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]})
    assert response.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.revoked_at is not None and ours.revoked_by == hospital_admin
    assert theirs.revoked_at is None
    # granted again after a revocation: a new row, the old one kept as history
    services.grant_hospital(partner=partner, hospital=hospital, by=hospital_admin)
    assert HospitalGrant.objects.filter(hospital=hospital).count() == 2


def test_a_superuser_creates_a_key_shown_once(admin_client):
    partner = PartnerFactory()
    response = admin_client.post("/admin/partners/partnerapikey/add/", {"name": "生产密钥", "partner": partner.pk})
    assert response.status_code == 302
    stored = PartnerAPIKey.objects.get()
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if "妥善保存" in str(m)]
    key = message.split("：")[1].split(" ")[0]
    assert key.startswith(stored.prefix + ".")
    assert PartnerAPIKey.objects.get_from_key(key) == stored
    change_url = f"/admin/partners/partnerapikey/{stored.pk}/change/"
    admin_client.get(change_url)  # the one page that shows the message
    assert key not in admin_client.get(change_url).content.decode()
