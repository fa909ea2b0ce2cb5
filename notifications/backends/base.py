from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.errors import SmsPermanentError, SmsTransientError
from notifications.templates_sms import SmsTemplate


@dataclass(frozen=True)
class SmsMessage:
    log_id: int
    phone: str  # normalised mainland mobile, 11 digits
    template: SmsTemplate
    params: dict[str, str]
    text: str


class SmsBackend:
    name = ""
    # A provider's error codes that a retry may cure (faults, short-window throttling); every
    # other code is permanent. Set per provider.
    TRANSIENT_CODES: frozenset[str] = frozenset()
    TRANSIENT_PREFIXES: tuple[str, ...] = ()

    def send(self, message: SmsMessage) -> str:
        """Deliver one message; return the provider's message id."""
        raise NotImplementedError

    @staticmethod
    def required_setting(name: str) -> str:
        """Read at delivery time, so a missing key fails that message, never the caller or startup."""
        value = str(getattr(settings, name, "") or "").strip()
        if not value:
            raise ImproperlyConfigured(f"SMS backend needs the environment variable {name}.")
        return value

    @classmethod
    def is_transient(cls, code: str) -> bool:
        return code in cls.TRANSIENT_CODES or code.startswith(cls.TRANSIENT_PREFIXES)

    @classmethod
    def error(cls, code: str, message: str) -> Exception:
        """The provider's error as SmsTransientError (retry) or SmsPermanentError (give up)."""
        error_class = SmsTransientError if cls.is_transient(code) else SmsPermanentError
        return error_class(message, code=code)

    @staticmethod
    def template_id(prefix: str, message: SmsMessage) -> str:
        """The provider's id for this message: settings.<PREFIX>_TEMPLATES from <PREFIX>_TEMPLATE_<CODE> variables."""
        code = message.template.code.lower()
        value = str(getattr(settings, f"{prefix}_TEMPLATES", {}).get(code, "")).strip()
        if not value:
            raise ImproperlyConfigured(f"SMS backend needs the environment variable {prefix}_TEMPLATE_{code.upper()}.")
        return value
