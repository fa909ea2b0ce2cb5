import os

from django.core.wsgi import get_wsgi_application

from config.request_environ import serving

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = serving(get_wsgi_application())

from config.checks import refuse_unsafe_settings  # noqa: E402  (needs the apps loaded above)

refuse_unsafe_settings()
