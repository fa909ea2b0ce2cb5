"""What a request's WSGI environ may carry into Django: the request's own variables, not the process's.

granian copies the whole process environment (DATABASE_URL, the keys) into every request's
environ, where it would reach request.META and any error report that shows it. A request needs
none of it: `serving` takes the process's own variables out again and keeps the request's: the
names the server sets for every request, and the headers the client sent. Under gunicorn it
finds nothing to take out.
"""

import os

# Set by the server for every request, whatever the process holds.
SERVER_SET = frozenset(
    {
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
        "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "RAW_URI",
    }
)  # fmt: skip


def serving(app):
    """`app` (a WSGI application) behind the filter; the process's variables are read once, now.

    A process variable is taken out of a request's environ, except the names the server sets for
    every request (and wsgi.*), and a header (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH) whose value is
    not the process's: that one the client sent.
    """
    process = {
        name: value for name, value in os.environ.items() if name not in SERVER_SET and not name.startswith("wsgi.")
    }

    def application(environ, start_response):
        for name in process.keys() & environ.keys():
            header = name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")
            if not header or environ[name] == process[name]:
                del environ[name]
        return app(environ, start_response)

    return application
