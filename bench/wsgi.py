"""The benchmark's entry point (bench.settings; see bench/run.py), served as config.wsgi serves the site."""

import os

from django.core.wsgi import get_wsgi_application

from config.request_environ import serving

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
application = serving(get_wsgi_application())
