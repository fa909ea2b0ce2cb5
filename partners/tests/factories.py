import factory

from accounts.tests.factories import PartnerFactory, SuperUserFactory
from partners.models import HospitalGrant, PartnerAPIKey, PartnerWebhook


def make_key(partner, **fields) -> tuple[PartnerAPIKey, str]:
    """A stored key (hash only) and the secret the partner would send."""
    return PartnerAPIKey.objects.create_key(partner=partner, name=fields.pop("name", "测试密钥"), **fields)


class HospitalGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HospitalGrant

    partner = factory.SubFactory(PartnerFactory)
    granted_by = factory.SubFactory(SuperUserFactory)


class PartnerWebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerWebhook

    partner = factory.SubFactory(PartnerFactory)
    url = "https://partner.example/hooks/booking"
    secret = "whsec-test-0123456789"
