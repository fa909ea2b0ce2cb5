from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("合作平台")

    def ready(self):
        from partners import auth, receivers  # noqa: F401  (schema extension; booking's status signal)
