from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Demo data for `make run`. It spans every app, so it sits above them all and nothing imports it."""

    name = "demo"
    verbose_name = _("演示数据")
