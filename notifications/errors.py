"""Errors of SMS sending.

None of these is a user's error: a bad template code or parameter is a programming error,
and provider failures are handled by the delivery task, never shown to a patient.
"""


class SmsTemplateError(ValueError):
    """An unknown template code, or parameters that do not fit the template."""


class SmsDeliveryError(Exception):
    """A provider refused or failed to take a message."""

    def __init__(self, message: str, *, code: str = ""):
        self.code = code
        super().__init__(f"{code}: {message}" if code else message)


class SmsTransientError(SmsDeliveryError):
    """Worth retrying later: throttling, a timeout, a network or provider-side fault."""


class SmsPermanentError(SmsDeliveryError):
    """Retrying cannot help: invalid number, unapproved template or signature, no balance, bad credentials."""


class SmsDeliveryBusy(Exception):
    """Another live process holds the message's delivery lock: try again shortly (it is then sent or found done)."""
