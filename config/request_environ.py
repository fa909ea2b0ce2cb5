"""What a request's WSGI environ may carry into Django: the request's own variables, not the process's.

granian copies the whole process environment (DATABASE_URL, the keys) into every request's
environ, where it would reach request.META and any error report that shows it. A request needs
none of it: `serving` takes the process's own variables out again and keeps the request's
(HTTP_*, wsgi.*, and the CGI names a server sets for a request). Under gunicorn it finds nothing
to take out.
"""

import os

REQUEST_NAMES = frozenset(
    {
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
        "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "RAW_URI",
    }
)  # fmt: skip


def process_only_names() -> frozenset[str]:
    return frozenset(
        name for name in os.environ if not name.startswith(("HTTP_", "wsgi.")) and name not in REQUEST_NAMES
    )


def serving(app):
    """`app` (a WSGI application) behind the filter; the process's names are read once, now."""
    process_only = process_only_names()

    def application(environ, start_response):
        for name in process_only.intersection(environ):
            del environ[name]
        return app(environ, start_response)

    return application
