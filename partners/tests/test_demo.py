import pytest
from django.core.management import call_command

from accounts.models import Partner
from demo.management.commands.seed_demo import DEMO_PARTNER_KEY
from partners.models import HospitalGrant, PartnerAPIKey

pytestmark = pytest.mark.django_db


def test_the_demo_partner_is_seeded_once_and_its_key_works(client, settings):
    settings.DEBUG = True
    for _run in range(2):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    partner = Partner.objects.get(code="demo-platform")
    assert PartnerAPIKey.objects.filter(partner=partner).count() == 1
    assert HospitalGrant.objects.filter(partner=partner, revoked_at__isnull=True).count() == 2
    assert not partner.user.has_usable_password()
    response = client.get("/api/partner/v1/hospitals/", headers={"X-Api-Key": DEMO_PARTNER_KEY})
    assert response.status_code == 200
    assert response.json()["count"] == 2
    slots = client.get("/api/partner/v1/availability/", headers={"X-Api-Key": DEMO_PARTNER_KEY}).json()
    assert slots["count"] > 0
