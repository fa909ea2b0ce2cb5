"""SMS backends, chosen by settings.SMS_BACKEND.

A backend takes one `SmsMessage` and returns the provider's message id, or raises
`SmsTransientError` (retry later), `SmsPermanentError` (give up) or `ImproperlyConfigured`
(credentials or template ids missing). It never touches the database.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from notifications.backends.base import SmsBackend, SmsMessage

BACKENDS = {
    "console": "notifications.backends.console.ConsoleBackend",
    "aliyun": "notifications.backends.aliyun.AliyunBackend",
    "tencent": "notifications.backends.tencent.TencentBackend",
}

__all__ = ["BACKENDS", "SmsBackend", "SmsMessage", "get_backend"]


def get_backend() -> SmsBackend:
    """The configured backend: one of BACKENDS by name, or a dotted path to an SmsBackend class."""
    name = settings.SMS_BACKEND
    path = BACKENDS.get(name, name)
    if "." not in path:
        raise ImproperlyConfigured(f"SMS_BACKEND={name!r}: use one of {', '.join(BACKENDS)} or a dotted class path.")
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SMS_BACKEND={name!r} cannot be imported: {exc}") from exc
    return backend_class()
