from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HospitalConfig(AppConfig):
    name = "hospital"
    verbose_name = _("医院")

    def ready(self):
        from hospital import beat  # noqa: F401  (connects the release entry's receivers)
