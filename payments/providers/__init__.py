"""Payment providers by name. `get_provider` never crashes on missing keys: it raises ProviderUnavailable."""

from payments.errors import ProviderUnavailable
from payments.providers import alipay, sandbox, wechat
from payments.providers.base import PaymentProvider

BUILDERS = {
    "alipay": alipay.build,
    "wechat": wechat.build,
    "sandbox": sandbox.build,
}


def get_provider(name: str) -> PaymentProvider:
    build = BUILDERS.get(name)
    provider = build() if build else None
    if provider is None:
        raise ProviderUnavailable()
    return provider


def available_providers() -> list[str]:
    found = []
    for name in BUILDERS:
        try:
            get_provider(name)
        except ProviderUnavailable:
            continue
        found.append(name)
    return found
