from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = _("预约挂号")

    def ready(self):
        from accounts.services import patient_in_use_checks
        from booking import receivers  # noqa: F401  (connects the payment, 到号提醒 and release signals)
        from booking.selectors import patient_in_use

        if patient_in_use not in patient_in_use_checks:
            patient_in_use_checks.append(patient_in_use)  # a 就诊人 with bookings under way stays
