"""Production refuses unsafe settings; the README's production variables pass `check --deploy` cleanly.

Settings are read once, at import, from the environment, so the end-to-end tests run manage.py in
a fresh process with a production environment (no PYTEST_VERSION: the settings then believe they
are in production). The checks themselves are also called directly, one refused setting each.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from config import checks, development

BASE_DIR = Path(__file__).resolve().parents[2]
README = BASE_DIR / "README.md"


def readme_production_env() -> dict[str, str]:
    """The variables of the README's production block; `<…>` placeholders become generated secrets."""
    block = re.search(r"<!-- production-env -->\s*```sh\n(.*?)```\s*<!-- /production-env -->", README.read_text(), re.S)
    assert block, "README.md lost its production-env block"
    generated = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PII_HASH_KEY": secrets.token_urlsafe(50),
    }
    found = {}
    for line in block.group(1).splitlines():
        name, _, value = line.partition("=")
        if value.startswith("<"):
            assert name in generated, f"no test value for the README placeholder {name}"
            value = generated[name]
        found[name] = value
    return found


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # A clean environment: nothing from this test run (PYTEST_VERSION, TEST_DATABASE_NAME, …) leaks in.
    # PAYMENTS_SANDBOX=0 shields the run from a developer's .env (make run writes PAYMENTS_SANDBOX=1).
    clean = {"PATH": os.environ.get("PATH", ""), "PAYMENTS_SANDBOX": "0", **env}
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=120)


UNSAFE = {
    "CACHE_URL": "locmemcache://",
    "SMS_BACKEND": "console",
    "PAYMENTS_SANDBOX": "1",
    "ALIPAY_APP_ID": "2021000000000001",
}


@pytest.mark.slow
def test_check_deploy_with_the_readme_production_variables_reports_no_issue():
    result = manage("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=readme_production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


@pytest.mark.slow
def test_check_deploy_fails_loudly_on_each_unsafe_setting():
    env = {**readme_production_env(), **UNSAFE}
    env["PII_ENCRYPTION_KEYS"] = f"{env['DJANGO_SECRET_KEY']},not-a-fernet-key,{development.PII_ENCRYPTION_KEY}"
    env["PII_HASH_KEY"] = development.PII_HASH_KEY

    result = manage("manage.py", "check", "--deploy", env=env)

    assert result.returncode != 0
    found = set(re.findall(r"\(config\.E\d{3}\)", result.stderr))
    assert found == {f"(config.E00{n})" for n in (1, 2, 3, 4, 5, 6, 7, 9)}, result.stderr


@pytest.mark.slow
def test_the_dev_secret_key_is_refused():
    env = {**readme_production_env(), "DJANGO_SECRET_KEY": development.SECRET_KEY}

    result = manage("manage.py", "check", env=env)

    assert result.returncode != 0
    assert "(config.E008)" in result.stderr


@pytest.mark.slow
def test_the_wsgi_application_refuses_to_start_on_unsafe_settings():
    env = {**readme_production_env(), "SMS_BACKEND": "console"}
    safe = manage("-c", "import config.wsgi", env=readme_production_env())

    unsafe = manage("-c", "import config.wsgi", env=env)

    assert safe.returncode == 0, safe.stderr
    assert unsafe.returncode != 0
    assert "ImproperlyConfigured" in unsafe.stderr
    assert "config.E002" in unsafe.stderr


@pytest.mark.slow
def test_https_settings_and_provider_keys_are_read_from_the_environment(tmp_path):
    key_file = tmp_path / "alipay_public.pem"
    key_file.write_text("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n")
    env = {
        **readme_production_env(),
        "DJANGO_SECURE_HSTS_SECONDS": "3600",
        "DJANGO_SECURE_HSTS_PRELOAD": "0",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Scheme",
        "ALIPAY_SELLER_ID": "2088102177296610",
        "ALIPAY_PUBLIC_KEY_FILE": str(key_file),
        "WECHATPAY_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----",
        "ALIYUN_SMS_TEMPLATE_BOOKING_CONFIRMED": "SMS_460001",
    }
    names = [
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "ALIPAY_SELLER_ID",
        "ALIPAY_PUBLIC_KEY",
        "WECHATPAY_PRIVATE_KEY",
        "ALIYUN_SMS_TEMPLATES",
    ]
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )

    result = manage("-c", f"import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; {script}", env=env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_SCHEME", "https"],
        "ALIPAY_SELLER_ID": "2088102177296610",
        "ALIPAY_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        "WECHATPAY_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
        "ALIYUN_SMS_TEMPLATES": {"booking_confirmed": "SMS_460001"},
    }


# The checks one by one (settings overridden in this process) -------------------------------------

SAFE = {
    "DEBUG": False,
    "TESTING": False,
    "SECRET_KEY": "s" * 10 + secrets.token_urlsafe(50),
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://r:6379"}},
    "SMS_BACKEND": "aliyun",
    "PAYMENTS_SANDBOX": False,
    "PII_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    "PII_HASH_KEY": secrets.token_urlsafe(50),
    "ALIPAY_APP_ID": "",
    "ALIPAY_SELLER_ID": "",
}


def errors_with(**changes) -> set[str]:
    with override_settings(**{**SAFE, **changes}):
        found = [message for check in ALL_CHECKS for message in check()]
    return {message.id for message in found}


ALL_CHECKS = [
    checks.check_shared_cache,
    checks.check_sms_backend,
    checks.check_payments_sandbox,
    checks.check_pii_keys,
    checks.check_secret_key,
    checks.check_alipay_seller_id,
]
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def test_safe_production_settings_pass_every_check():
    assert errors_with() == set()


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param({"CACHES": LOCMEM}, "config.E001", id="locmem-cache"),
        pytest.param({"CACHES": DUMMY}, "config.E001", id="dummy-cache"),
        pytest.param({"SMS_BACKEND": "console"}, "config.E002", id="console-sms"),
        pytest.param(
            {"SMS_BACKEND": "notifications.backends.console.ConsoleBackend"}, "config.E002", id="console-path"
        ),
        pytest.param({"PAYMENTS_SANDBOX": True}, "config.E003", id="sandbox"),
        pytest.param({"PII_ENCRYPTION_KEYS": ["not-a-key"]}, "config.E004", id="malformed-pii-key"),
        pytest.param({"PII_ENCRYPTION_KEYS": []}, "config.E004", id="no-pii-key"),
        pytest.param({"PII_ENCRYPTION_KEYS": [development.PII_ENCRYPTION_KEY]}, "config.E005", id="dev-pii-key"),
        pytest.param({"PII_HASH_KEY": development.PII_HASH_KEY}, "config.E006", id="dev-hash-key"),
        pytest.param({"PII_HASH_KEY": ""}, "config.E006", id="empty-hash-key"),
        pytest.param({"PII_HASH_KEY": SAFE["SECRET_KEY"]}, "config.E007", id="hash-key-is-secret-key"),
        pytest.param({"SECRET_KEY": development.SECRET_KEY}, "config.E008", id="dev-secret-key"),
        pytest.param({"ALIPAY_APP_ID": "2021000000000001"}, "config.E009", id="alipay-without-seller"),
    ],
)
def test_each_unsafe_setting_is_an_error_in_production(changes, expected):
    assert errors_with(**changes) == {expected}


def test_a_fernet_pii_key_equal_to_the_secret_key_is_refused():
    key = Fernet.generate_key().decode()

    assert errors_with(SECRET_KEY=key, PII_ENCRYPTION_KEYS=[key]) == {"config.E007"}


@pytest.mark.parametrize("mode", [{"DEBUG": True}, {"TESTING": True}])
def test_development_and_the_test_suite_may_use_the_development_defaults(mode):
    development_settings = {
        "CACHES": LOCMEM,
        "SMS_BACKEND": "console",
        "PAYMENTS_SANDBOX": True,
        "PII_ENCRYPTION_KEYS": [development.PII_ENCRYPTION_KEY],
        "PII_HASH_KEY": development.PII_HASH_KEY,
        "SECRET_KEY": development.SECRET_KEY,
    }

    assert errors_with(**development_settings, **mode) == set()


def test_refuse_unsafe_settings_names_every_failed_check():
    unsafe = override_settings(**{**SAFE, "SMS_BACKEND": "console", "PAYMENTS_SANDBOX": True})
    with unsafe, pytest.raises(ImproperlyConfigured, match=r"config\.E002[\s\S]*config\.E003"):
        checks.refuse_unsafe_settings()
