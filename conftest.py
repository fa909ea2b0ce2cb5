import pytest


@pytest.fixture(autouse=True)
def _locmem_everything(settings):
    """Tests never touch a real SMS gateway or payment provider unless they set one up."""
    settings.SMS_BACKEND = "console"
    settings.PAYMENTS_SANDBOX = False
