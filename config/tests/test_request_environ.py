"""The process's environment never reaches request.META (config.request_environ), whatever the server."""

import pytest

from config.request_environ import serving


def test_the_process_variables_are_taken_out_and_the_requests_kept(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:password@db/hospital")
    monkeypatch.setenv("PII_HASH_KEY", "not-for-requests")
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    served = serving(app)
    environ = {
        "DATABASE_URL": "postgres://user:password@db/hospital",  # as granian copies it in
        "PII_HASH_KEY": "not-for-requests",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/hospitals/",
        "QUERY_STRING": "page=2",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_X_SESSION_TOKEN": "abc",
        "wsgi.url_scheme": "https",
    }
    served(environ, lambda *args: None)
    assert "DATABASE_URL" not in seen and "PII_HASH_KEY" not in seen
    assert seen["PATH_INFO"] == "/api/v1/hospitals/" and seen["HTTP_X_SESSION_TOKEN"] == "abc"
    assert seen["REMOTE_ADDR"] == "10.0.0.7" and seen["wsgi.url_scheme"] == "https"


@pytest.mark.django_db
def test_through_the_site_a_request_meta_has_no_process_secret(monkeypatch):
    from django.core.handlers.wsgi import WSGIHandler

    monkeypatch.setenv("PII_ENCRYPTION_KEYS", "secret-key-material")
    metas = []
    handler = WSGIHandler()
    real = handler.get_response

    def recording(request):
        metas.append(dict(request.META))
        return real(request)

    handler.get_response = recording
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.input": __import__("io").BytesIO(b""),
        "wsgi.url_scheme": "http",
        "PII_ENCRYPTION_KEYS": "secret-key-material",
    }
    serving(handler)(environ, lambda *args: None)
    assert metas and "PII_ENCRYPTION_KEYS" not in metas[0]


def test_a_process_variable_named_like_a_header_is_taken_out_but_a_clients_header_kept(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@proxy:3128")
    monkeypatch.setenv("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.setenv("CONTENT_TYPE", "application/json")
    seen = {}

    def app(environ, start_response):
        seen.clear()
        seen.update(environ)
        return [b""]

    served = serving(app)
    copied_in = {"HTTP_PROXY": "http://user:secret@proxy:3128", "HTTP_X_FORWARDED_PROTO": "https"}
    served({**copied_in, "CONTENT_TYPE": "application/json", "REQUEST_METHOD": "GET"}, lambda *args: None)
    assert not {"HTTP_PROXY", "HTTP_X_FORWARDED_PROTO", "CONTENT_TYPE"} & seen.keys()  # the process's, not the client's
    served(
        {"HTTP_X_FORWARDED_PROTO": "http", "CONTENT_TYPE": "text/plain", "REQUEST_METHOD": "POST"}, lambda *args: None
    )
    assert seen["HTTP_X_FORWARDED_PROTO"] == "http" and seen["CONTENT_TYPE"] == "text/plain"  # the client sent these
