# Importing the Celery app here makes shared_task bind to it and lets
# django-celery-beat default CrontabSchedule.timezone to CELERY_TIMEZONE.
from config.celery import app as celery_app

__all__ = ["celery_app"]
