"""What every API door shares: app-token authentication, pagination and the schema.

Thin on purpose: the rules live in the apps' services; this module only says how a request is
authenticated and paged, and how errors appear in the OpenAPI schema (throttles: config/throttling.py).
"""

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny

from accounts.headless import authenticate_app_token

ERROR_STATUSES = ("400", "401", "403", "404", "409", "415", "422", "429")


class AppSessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's app token (`X-Session-Token`). Naming the header makes a missing or stale token a 401."""

    def authenticate_header(self, request):
        return "X-Session-Token"

    def authenticate(self, request):
        token = self.get_session_token(request)
        return authenticate_app_token(token) if token else None

    def get_session_token(self, request):
        token = super().get_session_token(request)
        if token and not (len(token) <= 255 and token.isascii() and token.isprintable()):
            # A session key is short printable ASCII; a NUL byte would even fail the session lookup.
            raise AuthenticationFailed(code="authentication_failed")
        return token


class AppSessionTokenScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.AppSessionTokenAuthentication"
    name = "appSessionToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Session-Token"}


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: one `Error` schema, declared on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "stable machine-readable code"},
            "detail": {"type": "string", "description": "a message for the user (zh-hans)"},
            "fields": {
                "type": "object",
                "additionalProperties": True,
                "description": "per-field messages (code `invalid`)",
            },
            "params": {"type": "object", "additionalProperties": True},
        },
        "required": ["code", "detail"],
    }
    error = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                for status in ERROR_STATUSES:
                    operation["responses"].setdefault(status, error)
    return result


def get_or_404(queryset, **lookup):
    """The object, or a 404 `not_found`: also what another account's object looks like."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise NotFound(code="not_found")
    return found


class PublicReadMixin:
    """Browsing needs no account: anyone may read, throttled per client (anon) or per user."""

    authentication_classes = [AppSessionTokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "1–64 个可见 ASCII 字符。同一账户（或同一合作平台）用同一键重发同一请求，得到与首次相同的回答；"
        "同一键换了请求内容则返回 422 idempotency_key_reused。"
    ),
)


def idempotency_key(request) -> str | None:
    """The request's `Idempotency-Key`, or None. One rule for every door that books or moves a place:
    1–64 visible ASCII characters; anything else is a 400 before any work is done."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not (1 <= len(key) <= 64) or not key.isascii() or not key.isprintable() or key.strip() != key:
        raise serializers.ValidationError({IDEMPOTENCY_HEADER: [_("幂等键须为1至64个可见ASCII字符。")]})
    return key
