from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = _("预约挂号")

    def ready(self):
        from booking import receivers  # noqa: F401  (connects the payment signals)
