from dataclasses import dataclass

import environ
from django.core.exceptions import ImproperlyConfigured

from notifications.templates_sms import SmsTemplate

env = environ.Env()


@dataclass(frozen=True)
class SmsMessage:
    log_id: int
    phone: str  # normalised mainland mobile, 11 digits
    template: SmsTemplate
    params: dict[str, str]
    text: str


class SmsBackend:
    name = ""

    def send(self, message: SmsMessage) -> str:
        """Deliver one message; return the provider's message id."""
        raise NotImplementedError

    @staticmethod
    def required_env(name: str) -> str:
        """Read at delivery time, so a missing key fails that message, never the caller or startup."""
        value = env.str(name, default="").strip()
        if not value:
            raise ImproperlyConfigured(f"SMS backend needs the environment variable {name}.")
        return value

    @classmethod
    def template_id(cls, prefix: str, message: SmsMessage) -> str:
        return cls.required_env(f"{prefix}_TEMPLATE_{message.template.code.upper()}")
