"""Provider credentials, read at use time so settings.py stays untouched and nothing secret is in the repository.

Each value comes from a Django setting of the same name if the project defines one, else from the
environment (django-environ). Keys may be given inline (PEM; literal "\\n" accepted) or through
`<NAME>_FILE`, a path to a file holding them. A provider whose credentials are incomplete is
simply unavailable.
"""

from dataclasses import dataclass
from pathlib import Path

import environ
from django.conf import settings
from django.urls import reverse

env = environ.Env()


def _value(name: str) -> str:
    configured = getattr(settings, name, None)
    if configured not in (None, ""):
        return str(configured)
    return env.str(name, default="", multiline=True)


def _secret(name: str) -> str:
    """The inline value of NAME, or the contents of the file named by NAME_FILE."""
    inline = _value(name)
    if inline:
        return inline.strip()
    path = _value(f"{name}_FILE")
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _flag(name: str) -> bool:
    configured = getattr(settings, name, None)
    if configured is not None:
        return bool(configured)
    return env.bool(name, default=False)


def _timeout(name: str, default: float) -> float:
    configured = getattr(settings, name, None)
    if configured is not None:
        return float(configured)
    return env.float(name, default=default)


def notify_base_url() -> str:
    """Public https origin the providers can reach (falls back to SITE_URL for development)."""
    return (_value("PAYMENTS_NOTIFY_BASE_URL") or settings.SITE_URL).rstrip("/")


def absolute_url(view_name: str, **kwargs) -> str:
    return notify_base_url() + reverse(view_name, kwargs=kwargs or None)


@dataclass(frozen=True)
class AlipaySettings:
    app_id: str
    private_key: str
    alipay_public_key: str
    debug: bool
    seller_id: str
    timeout: float


@dataclass(frozen=True)
class WechatSettings:
    mchid: str
    appid: str
    private_key: str
    cert_serial_no: str
    apiv3_key: str
    public_key: str
    public_key_id: str
    timeout: float


def alipay_settings() -> AlipaySettings | None:
    found = AlipaySettings(
        app_id=_value("ALIPAY_APP_ID"),
        private_key=_secret("ALIPAY_PRIVATE_KEY"),
        alipay_public_key=_secret("ALIPAY_PUBLIC_KEY"),
        debug=_flag("ALIPAY_DEBUG"),
        seller_id=_value("ALIPAY_SELLER_ID"),
        timeout=_timeout("PAYMENTS_PROVIDER_TIMEOUT", 10.0),
    )
    if not (found.app_id and found.private_key and found.alipay_public_key):
        return None
    return found


def wechat_settings() -> WechatSettings | None:
    found = WechatSettings(
        mchid=_value("WECHATPAY_MCHID"),
        appid=_value("WECHATPAY_APPID"),
        private_key=_secret("WECHATPAY_PRIVATE_KEY"),
        cert_serial_no=_value("WECHATPAY_CERT_SERIAL_NO"),
        apiv3_key=_secret("WECHATPAY_APIV3_KEY"),
        public_key=_secret("WECHATPAY_PUBLIC_KEY"),
        public_key_id=_value("WECHATPAY_PUBLIC_KEY_ID"),
        timeout=_timeout("PAYMENTS_PROVIDER_TIMEOUT", 10.0),
    )
    required = (found.mchid, found.appid, found.private_key, found.cert_serial_no, found.apiv3_key)
    if not all(required) or not (found.public_key and found.public_key_id) or len(found.apiv3_key) != 32:
        return None
    return found


def sandbox_enabled() -> bool:
    return bool(getattr(settings, "PAYMENTS_SANDBOX", False))
