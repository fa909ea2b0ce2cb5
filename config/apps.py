from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Not a domain app: it only registers the checks that keep unsafe settings out of production."""

    name = "config"
    verbose_name = "配置"

    def ready(self):
        from config import checks  # noqa: F401  (registers the checks)
