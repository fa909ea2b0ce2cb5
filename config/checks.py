"""Settings a production process refuses to start with.

Production is DJANGO_DEBUG off outside the test suite. The checks are Django system checks at
Error level, so `manage.py check` (with or without --deploy), `migrate` and `runserver` stop on
them; `refuse_unsafe_settings` makes the WSGI/ASGI application and the Celery worker and beat
stop on them too, since those start without running any check.
"""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from config import development

TAG = "production"
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
CONSOLE_SMS_BACKENDS = {"console", "notifications.backends.console.ConsoleBackend"}


def is_production() -> bool:
    return not (settings.DEBUG or getattr(settings, "TESTING", False))


def refuse_unsafe_settings() -> None:
    """Raise ImproperlyConfigured listing every production check that fails (for processes that run no checks)."""
    errors = sorted(
        (
            message
            for message in checks.run_checks(tags=[TAG])
            if message.level >= checks.ERROR and not message.is_silenced()
        ),
        key=lambda message: message.id or "",
    )
    if errors:
        raise ImproperlyConfigured("Unsafe settings for production:\n" + "\n".join(str(e) for e in errors))


@checks.register(TAG)
def check_shared_cache(app_configs=None, **kwargs):
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if not is_production() or backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        checks.Error(
            f"The default cache is process-local ({backend}).",
            hint="Set CACHE_URL to a cache every process shares, e.g. redis://redis:6379/1: the sign-up, "
            "SMS-code and login limits count there.",
            id="config.E001",
        )
    ]


@checks.register(TAG)
def check_sms_backend(app_configs=None, **kwargs):
    if not is_production() or settings.SMS_BACKEND not in CONSOLE_SMS_BACKENDS:
        return []
    return [
        checks.Error(
            "SMS_BACKEND is console: login codes and patients' names would be written to the log.",
            hint="Set SMS_BACKEND=aliyun or SMS_BACKEND=tencent and its keys.",
            id="config.E002",
        )
    ]


@checks.register(TAG)
def check_payments_sandbox(app_configs=None, **kwargs):
    if not is_production() or not settings.PAYMENTS_SANDBOX:
        return []
    return [
        checks.Error(
            "PAYMENTS_SANDBOX is on: anyone holding a payment page could pay for free.",
            hint="Unset PAYMENTS_SANDBOX (or set it to 0).",
            id="config.E003",
        )
    ]


def _valid_fernet_key(key: str) -> bool:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return False
    return True


@checks.register(TAG)
def check_pii_keys(app_configs=None, **kwargs):
    if not is_production():
        return []
    errors = []
    keys = [str(key) for key in settings.PII_ENCRYPTION_KEYS]
    if not keys or not all(_valid_fernet_key(key) for key in keys):
        errors.append(
            checks.Error(
                "PII_ENCRYPTION_KEYS must be one or more Fernet keys (url-safe base64 of 32 bytes), comma separated.",
                hint='Make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"',
                id="config.E004",
            )
        )
    if development.PII_ENCRYPTION_KEY in keys:
        errors.append(
            checks.Error(
                "PII_ENCRYPTION_KEYS holds the development key, which is public.",
                hint="Generate a new key; re-encrypt data written with the development key or start empty.",
                id="config.E005",
            )
        )
    if not settings.PII_HASH_KEY or settings.PII_HASH_KEY == development.PII_HASH_KEY:
        errors.append(
            checks.Error(
                "PII_HASH_KEY is empty or the development key, which is public.",
                hint="Set PII_HASH_KEY to a long random secret before the first user signs up; never change it.",
                id="config.E006",
            )
        )
    if settings.SECRET_KEY in [*keys, settings.PII_HASH_KEY]:
        errors.append(
            checks.Error(
                "A PII key equals DJANGO_SECRET_KEY.",
                hint="Use separate secrets: the PII keys protect data at rest, the secret key signs cookies and links.",
                id="config.E007",
            )
        )
    return errors


@checks.register(TAG)
def check_secret_key(app_configs=None, **kwargs):
    if not is_production() or settings.SECRET_KEY != development.SECRET_KEY:
        return []
    return [
        checks.Error(
            "DJANGO_SECRET_KEY is the development key, which is public.",
            hint="Set DJANGO_SECRET_KEY to at least 50 random characters.",
            id="config.E008",
        )
    ]


@checks.register(TAG)
def check_alipay_seller_id(app_configs=None, **kwargs):
    """Without a seller id a validly signed notification for another merchant's trade would be taken as ours."""
    if not settings.ALIPAY_APP_ID or settings.ALIPAY_SELLER_ID:
        return []
    return [
        checks.Error(
            "ALIPAY_APP_ID is set but ALIPAY_SELLER_ID is not.",
            hint="Set ALIPAY_SELLER_ID to the merchant's 2088… partner id; Alipay stays unavailable without it.",
            id="config.E009",
        )
    ]
