"""Backends for tests, chosen with settings.SMS_BACKEND = "notifications.tests.sms_backends.<Class>"."""

from notifications.backends import SmsBackend
from notifications.errors import SmsPermanentError, SmsTransientError


class RecordingBackend(SmsBackend):
    name = "recording"
    sent: list = []

    def send(self, message):
        type(self).sent.append(message)
        return f"rec-{len(type(self).sent)}"


class FlakyBackend(RecordingBackend):
    """Throttled for the first `failures` calls, then delivers."""

    name = "flaky"
    failures = 1
    calls = 0

    def send(self, message):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise SmsTransientError("too many requests", code="Throttling.User")
        return super().send(message)


class RefusingBackend(RecordingBackend):
    name = "refusing"
    calls = 0

    def send(self, message):
        type(self).calls += 1
        raise SmsPermanentError("invalid mobile number", code="isv.MOBILE_NUMBER_ILLEGAL")


class BrokenBackend(RecordingBackend):
    name = "broken"

    def send(self, message):
        raise RuntimeError("bug in the backend")
