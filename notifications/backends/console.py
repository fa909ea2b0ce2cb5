import logging
import uuid

from accounts.pii import mask_phone
from notifications.backends.base import SmsBackend, SmsMessage

logger = logging.getLogger("notifications")


class ConsoleBackend(SmsBackend):
    """Development and tests: the message goes to the log (phone masked), nothing leaves the machine."""

    name = "console"

    def send(self, message: SmsMessage) -> str:
        logger.info("SMS to %s [%s]: %s", mask_phone(message.phone), message.template.code, message.text)
        return f"console-{uuid.uuid4().hex}"
