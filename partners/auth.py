"""Partner API keys: `Authorization: Api-Key <key>` or `X-Api-Key: <key>`.

The authentication class finds the key (only its hash is stored) and authenticates as the
partner's service account, so the booking services see the same user the partner's bookings
and patients belong to; the permission class then requires a partner key and sets
`request.partner`.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication
from rest_framework_api_key.permissions import KeyParser

from partners.models import PartnerAPIKey

KEY_HEADER = "X-Api-Key"


class PartnerKeyParser(KeyParser):
    def get(self, request):
        return self.get_from_header(request, "HTTP_X_API_KEY") or self.get_from_authorization(request)


class InvalidPartnerKey(exceptions.AuthenticationFailed):
    default_code = "invalid_api_key"
    default_detail = "API 密钥无效、已吊销或已过期。"


class MissingPartnerKey(exceptions.NotAuthenticated):
    default_code = "missing_api_key"
    default_detail = "请在 X-Api-Key 请求头（或 Authorization: Api-Key …）中提供合作平台 API 密钥。"


class PartnerKeyAuthentication(BaseAuthentication):
    key_parser = PartnerKeyParser()

    def authenticate(self, request):
        key = self.key_parser.get(request)
        if not key:
            return None
        try:
            api_key = PartnerAPIKey.objects.get_from_key(key)
        except PartnerAPIKey.DoesNotExist:
            raise InvalidPartnerKey() from None
        if api_key.has_expired or not api_key.partner.user.is_active:
            raise InvalidPartnerKey()
        return api_key.partner.user, api_key

    def authenticate_header(self, request):
        return KEY_HEADER


class HasPartnerKey(permissions.BasePermission):
    """Only a partner key opens the partner API; sets `request.partner`."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, PartnerAPIKey):
            raise MissingPartnerKey()
        request.partner = request.auth.partner
        return True


class PartnerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "partners.auth.PartnerKeyAuthentication"
    name = "partnerKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": KEY_HEADER,
            "description": "合作平台 API 密钥；也可用 `Authorization: Api-Key <key>`。",
        }
