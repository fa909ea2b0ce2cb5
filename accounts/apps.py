from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("账户与就诊人")

    def ready(self):
        from accounts import checks, headless  # noqa: F401  (registers the system checks and signal receivers)
