import os
import sys

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hospital_booking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_settings(**kwargs):
    """Workers send the SMS and beat starts them: neither may run on settings production refuses."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    django.setup()
    from config.checks import refuse_unsafe_settings

    try:
        refuse_unsafe_settings()
    except ImproperlyConfigured as exc:
        # Celery logs and swallows an Exception raised in a signal handler; SystemExit stops it.
        print(exc, file=sys.__stderr__)  # beat redirects sys.stderr into its logger
        raise SystemExit(1) from exc
