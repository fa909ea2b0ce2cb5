"""One settings module, driven by the environment (django-environ).

Development and tests get safe defaults; with DJANGO_DEBUG off and outside the test
runner, the secrets have no default and the process refuses to start without them.
"""

import os
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from config import development

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# Secrets may also be given as NAME_FILE, the path of a file holding them (mounted secrets).
secret_env = environ.FileAwareEnv()

# pytest (8.2+) sets PYTEST_VERSION for the whole run.
TESTING = "PYTEST_VERSION" in os.environ
# `make run` writes a development .env; the test suite never reads it.
if not TESTING and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
DEV_DEFAULTS = DEBUG or TESTING


def _dev_default(value):
    """A default that only development and the test suite may fall back on."""
    return value if DEV_DEFAULTS else environ.Env.NOTSET


SECRET_KEY = env("DJANGO_SECRET_KEY", default=_dev_default(development.SECRET_KEY))
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# Personal data: ID numbers and phone numbers are encrypted (Fernet, first key encrypts,
# every key decrypts, so keys can be rotated) and looked up through a keyed HMAC.
PII_ENCRYPTION_KEYS = env.list(
    "PII_ENCRYPTION_KEYS",
    default=_dev_default([development.PII_ENCRYPTION_KEY]),
)
PII_HASH_KEY = env("PII_HASH_KEY", default=_dev_default(development.PII_HASH_KEY))

INSTALLED_APPS = [
    "config",  # the production safety checks (config/checks.py)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_api_key",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "axes",
    "accounts",
    "hospital",
    "scheduling",
    "booking",
    "interop",
    "partners",
    "desk",
    "payments",
    "notifications",
    "analytics",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.RateLimitedMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.elderly.context",
            ],
        },
    },
]

# PostgreSQL in production and in the test suite; SQLite only for `make run`.
DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default=(
            "postgres://postgres@127.0.0.1:5432/hospital_booking"
            if TESTING
            else f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
        ),
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
if env("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Wait for the writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "config.cache.RedisCache"  # one redis-py client per pool (config/cache.py)
# How long a doctor's schedule page (places left) may be served from the cache; every booking,
# cancellation, 停诊 and 加号 refreshes it at once (scheduling.selectors). 0 turns the cache off.
SCHEDULES_CACHE_SECONDS = env.int("SCHEDULES_CACHE_SECONDS", default=30)
# Sessions (the site's cookie and the app's X-Session-Token) are read from the cache and written
# through to the database: an authenticated request costs no session query while the cache holds it.
SESSION_ENGINE = env("SESSION_ENGINE", default="django.contrib.sessions.backends.cached_db")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "hospital.admin_scope.HospitalStaffBoundary",
    "accounts.backends.PhoneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
if TESTING:
    # Factories hash a password for every user; the real hasher would dominate the suite's time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# The login field (USERNAME_FIELD) is the encrypted phone; uniqueness is enforced on its
# keyed hash instead, which Django's check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

# django-allauth: sign up and log in with a mainland mobile number and an SMS code.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# accounts must not import notifications (it stands on accounts): the SMS sender is wired here.
ACCOUNTS_SMS_SENDER = "notifications.services.send_sms"
ACCOUNT_LOGIN_METHODS = {"phone"}
ACCOUNT_SIGNUP_FIELDS = ["phone*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_USER_MODEL_EMAIL_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# The login page offers a password as well as the SMS code (sign-up itself needs no password).
ACCOUNT_FORMS = {"login": "accounts.forms.PhonePasswordLoginForm"}
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_LOGIN_BY_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
HEADLESS_CLIENTS = ("app",)
HEADLESS_TOKEN_STRATEGY = "accounts.headless.OneReadSessionTokenStrategy"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文"))]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
if DEV_DEFAULTS:
    # WhiteNoise warns on every start when the folder `collectstatic` fills is missing.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The app's allauth token first (a missing or stale token is a 401), then the site's session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.AppSessionTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.api.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.SignedInRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/min"),
        "user": env("API_THROTTLE_USER", default="600/min"),
        "booking": env("API_THROTTLE_BOOKING", default="30/min"),
    },
    "EXCEPTION_HANDLER": "config.api_errors.problem_exception_handler",
    # Whom the anonymous limit counts: the connecting address, or with N reverse proxies in front the
    # address the N-th from last added to X-Forwarded-For. Unset, DRF would trust the header whole,
    # and a client could dodge the limit by sending a new one with every request.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "网上挂号系统 API",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.add_error_responses",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Fields named "status" or "provider" carry different choice sets; each gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": "booking.models.Appointment.Status",
        "PaymentProviderEnum": "payments.models.Provider",
    },
}

# Celery: an embedded filesystem broker unless CELERY_BROKER_URL names a real one.
BROKER_DIR = BASE_DIR / "var" / "broker"
# "localhost" only keeps kombu from warning that no hostname was given; nothing listens there.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem:"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    for _folder in CELERY_BROKER_TRANSPORT_OPTIONS.values():
        if isinstance(_folder, str):
            Path(_folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
# One broker may serve several deployments (staging next to production): each its own queue.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# What each job guarantee rests on (README, production): the claims in the database make a
# repeated job a no-op; these settings make sure a job is repeated rather than lost.
# Beat writes its last-run time after every send, so a beat killed right after a send does not
# send it again at restart (the default syncs every 3 minutes).
CELERY_BEAT_SYNC_EVERY = 1
# A crontab run missed by more than an hour (beat down) is skipped, never fired hours early the
# next day; the release sweep (scheduling.tasks.release_due_task) catches the day up instead.
CELERY_BEAT_CRON_STARTING_DEADLINE = 3600
# Publishing fails fast when the broker is down (1 s, one quick retry) instead of hanging the
# request; the message is already a row in the database and a sweep publishes it again.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that loses the broker stops its running tasks (their messages are redelivered)
# rather than finishing them and running them again from the redelivery.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
if CELERY_BROKER_URL.startswith(("redis:", "rediss:")):
    # Redis has no acknowledgements: an unacked message comes back after the visibility timeout.
    # Every job here is short; longer delays go through beat, never through a countdown.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_REDIS_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_interval": env.int("CELERY_REDIS_RESTORE_INTERVAL", default=10),
    }


def _secret(name: str) -> str:
    """NAME inline (PEM; a literal "\\n" reads as a line break) or the contents of the file NAME_FILE."""
    return secret_env.str(name, default="", multiline=True).strip()


def _numbered(prefix: str) -> dict[str, str]:
    """PREFIX_<CODE>=value variables as {"<code>": value}, e.g. the SMS template ids per message."""
    return {
        name.removeprefix(prefix).lower(): value.strip()
        for name, value in os.environ.items()
        if name.startswith(prefix) and value.strip()
    }


# Payments: the 模拟支付 sandbox provider exists only when switched on (make run does); production
# refuses to start with it on (config/checks.py). A provider whose keys are incomplete is unavailable.
PAYMENTS_SANDBOX = env.bool("PAYMENTS_SANDBOX", default=False)
PAYMENTS_NOTIFY_BASE_URL = env.str("PAYMENTS_NOTIFY_BASE_URL", default="")
PAYMENTS_PROVIDER_TIMEOUT = env.float("PAYMENTS_PROVIDER_TIMEOUT", default=10.0)
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")
ALIPAY_SELLER_ID = env.str("ALIPAY_SELLER_ID", default="")
ALIPAY_PRIVATE_KEY = _secret("ALIPAY_PRIVATE_KEY")
ALIPAY_PUBLIC_KEY = _secret("ALIPAY_PUBLIC_KEY")
ALIPAY_DEBUG = env.bool("ALIPAY_DEBUG", default=False)
WECHATPAY_MCHID = env.str("WECHATPAY_MCHID", default="")
WECHATPAY_APPID = env.str("WECHATPAY_APPID", default="")
WECHATPAY_PRIVATE_KEY = _secret("WECHATPAY_PRIVATE_KEY")
WECHATPAY_CERT_SERIAL_NO = env.str("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_APIV3_KEY = _secret("WECHATPAY_APIV3_KEY")
WECHATPAY_PUBLIC_KEY = _secret("WECHATPAY_PUBLIC_KEY")
WECHATPAY_PUBLIC_KEY_ID = env.str("WECHATPAY_PUBLIC_KEY_ID", default="")

# SMS: "console" prints messages to the log (development only: production refuses it);
# "aliyun" and "tencent" send them. Credentials are checked when a message is sent.
SMS_BACKEND = env("SMS_BACKEND", default="console")
ALIYUN_SMS_ACCESS_KEY_ID = env.str("ALIYUN_SMS_ACCESS_KEY_ID", default="")
ALIYUN_SMS_ACCESS_KEY_SECRET = _secret("ALIYUN_SMS_ACCESS_KEY_SECRET")
ALIYUN_SMS_SIGN_NAME = env.str("ALIYUN_SMS_SIGN_NAME", default="")
ALIYUN_SMS_ENDPOINT = env.str("ALIYUN_SMS_ENDPOINT", default="dysmsapi.aliyuncs.com")
ALIYUN_SMS_TEMPLATES = _numbered("ALIYUN_SMS_TEMPLATE_")
TENCENT_SMS_SECRET_ID = env.str("TENCENT_SMS_SECRET_ID", default="")
TENCENT_SMS_SECRET_KEY = _secret("TENCENT_SMS_SECRET_KEY")
TENCENT_SMS_SDK_APP_ID = env.str("TENCENT_SMS_SDK_APP_ID", default="")
TENCENT_SMS_SIGN_NAME = env.str("TENCENT_SMS_SIGN_NAME", default="")
TENCENT_SMS_REGION = env.str("TENCENT_SMS_REGION", default="ap-guangzhou")
TENCENT_SMS_TEMPLATES = _numbered("TENCENT_SMS_TEMPLATE_")

if not DEV_DEFAULTS:
    # HTTPS only. HSTS defaults to a year with subdomains and preload (what `check --deploy`
    # asks for); lower DJANGO_SECURE_HSTS_SECONDS while trying HTTPS out for the first time.
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    # The header the TLS-terminating proxy sets to "https" (and strips from clients); empty when
    # nothing is in front of the app, since then any client could claim HTTPS with it.
    _proxy_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="X-Forwarded-Proto").strip()
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Admin login lockout (django-axes): failed password logins are counted per phone and per
# client address (a success does not reset them); at the limit both are locked for the cool-off.
# Superusers unlock in the admin (登录尝试: delete the rows) or with `manage.py axes_reset`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_key"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
# Behind a reverse proxy, name the header it sets (e.g. HTTP_X_REAL_IP); REMOTE_ADDR would be the proxy.
AXES_IPWARE_META_PRECEDENCE_ORDER = env.tuple("AXES_CLIENT_IP_HEADERS", default=("REMOTE_ADDR",))
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "phone", "login"]
# Successful logins are not logged (every patient's login and address would pile up); failures are.
AXES_DISABLE_ACCESS_LOG = True

# Partner API webhooks: each attempt's HTTP timeout (seconds), how many attempts in all, and the
# exponential backoff between them (base × 2^(n-1), capped); the sweep re-queues a pending
# delivery once its next attempt is this late (a lost message, a broker outage).
PARTNER_WEBHOOK_TIMEOUT = env.float("PARTNER_WEBHOOK_TIMEOUT", default=5.0)
PARTNER_WEBHOOK_MAX_ATTEMPTS = env.int("PARTNER_WEBHOOK_MAX_ATTEMPTS", default=10)
PARTNER_WEBHOOK_RETRY_BASE_SECONDS = env.int("PARTNER_WEBHOOK_RETRY_BASE_SECONDS", default=30)
PARTNER_WEBHOOK_RETRY_MAX_SECONDS = env.int("PARTNER_WEBHOOK_RETRY_MAX_SECONDS", default=3600)
PARTNER_WEBHOOK_SWEEP_GRACE_SECONDS = env.int("PARTNER_WEBHOOK_SWEEP_GRACE_SECONDS", default=300)
