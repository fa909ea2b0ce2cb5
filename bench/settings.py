"""The benchmark's settings: the site's own, in production mode, plus a statement counter.

Development secrets (this is a throwaway database on the same machine), DEBUG off (no query log,
no debug pages), the cache and the database connection from the environment `bench/run.py` sets
(Redis, `DATABASE_CONN_MAX_AGE`), and one middleware that reports each request's SQL statements
in an `X-Bench-SQL` header for the wrk scripts to add up.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")  # only to take the development secrets' defaults

from config.settings import *  # noqa: F403
from config.settings import LOGGING, MIDDLEWARE

DEBUG = False
ROOT_URLCONF = "bench.urls"
MIDDLEWARE = ["bench.middleware.count_statements", *MIDDLEWARE]
# 4xx answers are the point of the rush (409 slot_full): log server errors only.
LOGGING = {
    **LOGGING,
    "root": {**LOGGING["root"], "level": "WARNING"},
    "loggers": {**LOGGING.get("loggers", {}), "django.request": {"level": "ERROR"}},
}
