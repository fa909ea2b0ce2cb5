"""System checks for the wiring accounts takes from settings."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


@checks.register()
def sms_sender_is_importable(app_configs, **kwargs):
    """Login and sign-up codes go out through ACCOUNTS_SMS_SENDER; a bad path must stop start-up, not a login."""
    path = getattr(settings, "ACCOUNTS_SMS_SENDER", "")
    try:
        sender = import_string(path)
    except ImportError as exc:
        return [checks.Error(f"ACCOUNTS_SMS_SENDER {path!r} cannot be imported: {exc}", id="accounts.E001")]
    if not callable(sender):
        return [checks.Error(f"ACCOUNTS_SMS_SENDER {path!r} is not callable.", id="accounts.E001")]
    return []
