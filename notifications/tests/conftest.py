import pytest

from notifications.tests import sms_backends


@pytest.fixture
def sms_backend(settings):
    """Switch to a test backend by class name; its recorded state starts empty."""

    def use(name: str, **state):
        backend = getattr(sms_backends, name)
        backend.sent = []
        backend.calls = 0
        for key, value in state.items():
            setattr(backend, key, value)
        settings.SMS_BACKEND = f"notifications.tests.sms_backends.{name}"
        return backend

    return use
