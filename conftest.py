import pytest


@pytest.fixture(autouse=True)
def _locmem_everything(settings):
    """Tests never touch a real SMS gateway or payment provider unless they set one up."""
    settings.SMS_BACKEND = "console"
    settings.PAYMENTS_SANDBOX = False


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The cache holds allauth's rate-limit counters; one test's attempts must not throttle the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_user(db):
    """pytest-django's admin_user (and admin_client) with a phone number as the login."""
    from accounts.tests.factories import SuperUserFactory

    return SuperUserFactory(phone="13900009999", name="测试超级管理员")
