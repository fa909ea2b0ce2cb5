"""Schemathesis against the partner endpoints, authenticated with a partner key: no 500s, and
every response conforms to the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application
from partners.tests.conftest import partner_hospital
from partners.tests.factories import HospitalGrantFactory, make_key

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/partner/v1/")


@pytest.fixture
def partner_headers(db):
    from accounts.tests.factories import PartnerFactory

    world = partner_hospital("演示授权医院")
    partner_hospital("演示未授权医院")
    partner = PartnerFactory()
    HospitalGrantFactory(partner=partner, hospital=world["hospital"])
    key = make_key(partner)[1]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"X-Api-Key": key}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_partner_api(case, partner_headers):
    case.call_and_validate(
        headers=partner_headers,
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )
