import threading

import pytest
from django.db import connection

from accounts.models import Patient
from accounts.tests.factories import PartnerFactory
from partners import services
from partners.tests.test_api import person


@pytest.mark.django_db(transaction=True)
def test_two_requests_registering_one_person_at_once_get_one_patient():
    partner = PartnerFactory()
    barrier = threading.Barrier(4)
    found, failures = [], []

    def register():
        try:
            barrier.wait()
            found.append(services.register_patient(partner=partner, **person()).pk)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(found)) == 1 and len(found) == 4
    assert Patient.objects.filter(user=partner.user).count() == 1
