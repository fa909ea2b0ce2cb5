"""Provider credentials, taken from Django settings (config/settings.py reads them from the environment).

Nothing secret is in the repository. A provider whose credentials are incomplete is simply unavailable.
"""

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse


def _value(name: str) -> str:
    return str(getattr(settings, name, "") or "").strip()


def _timeout() -> float:
    return float(getattr(settings, "PAYMENTS_PROVIDER_TIMEOUT", 10.0))


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
        private_key=_value("ALIPAY_PRIVATE_KEY"),
        alipay_public_key=_value("ALIPAY_PUBLIC_KEY"),
        debug=bool(getattr(settings, "ALIPAY_DEBUG", False)),
        seller_id=_value("ALIPAY_SELLER_ID"),
        timeout=_timeout(),
    )
    # The seller id is required: without it a validly signed notification about another
    # merchant's trade under the same app could be taken for ours (config.E009 says so at start).
    if not (found.app_id and found.private_key and found.alipay_public_key and found.seller_id):
        return None
    return found


def wechat_settings() -> WechatSettings | None:
    found = WechatSettings(
        mchid=_value("WECHATPAY_MCHID"),
        appid=_value("WECHATPAY_APPID"),
        private_key=_value("WECHATPAY_PRIVATE_KEY"),
        cert_serial_no=_value("WECHATPAY_CERT_SERIAL_NO"),
        apiv3_key=_value("WECHATPAY_APIV3_KEY"),
        public_key=_value("WECHATPAY_PUBLIC_KEY"),
        public_key_id=_value("WECHATPAY_PUBLIC_KEY_ID"),
        timeout=_timeout(),
    )
    required = (found.mchid, found.appid, found.private_key, found.cert_serial_no, found.apiv3_key)
    if not all(required) or not (found.public_key and found.public_key_id) or len(found.apiv3_key) != 32:
        return None
    return found


def sandbox_enabled() -> bool:
    return bool(getattr(settings, "PAYMENTS_SANDBOX", False))
