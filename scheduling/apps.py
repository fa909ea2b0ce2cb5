from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = _("排班与号源")

    def ready(self):
        from scheduling import receivers  # noqa: F401  (warms the browse cache when a day is released)
