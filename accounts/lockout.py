"""Password-login lockout (django-axes): how an attempt is keyed, and what a locked-out client sees.

Attempts are counted per phone and per client address. The phone is stored as its keyed hash
(like every phone at rest), so the admin finds a locked phone through the same hash.
"""

from axes.helpers import get_cool_off
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts import pii
from accounts.models import phone_hash

LOGIN_FIELDS = ("phone", "username", "login")


def lockout_key(request, credentials=None) -> str | None:
    """The "username" axes counts failures under: the phone's keyed hash, whatever way it was typed."""
    sources = [credentials or {}, getattr(request, "POST", {}) or {}]
    raw = next((source.get(name) for source in sources for name in LOGIN_FIELDS if source.get(name)), None)
    if not raw:
        return None
    try:
        return phone_hash(str(raw))
    except ValidationError:
        return pii.lookup_hash("login", str(raw).strip())


def client_ip(request) -> str | None:
    """The client address from the first META key in AXES_IPWARE_META_PRECEDENCE_ORDER that is set.

    Behind a reverse proxy that key is the proxy's header (e.g. HTTP_X_REAL_IP); of a list, the
    right-most entry is the one our own proxy appended, the only one a client cannot forge.
    """
    for key in settings.AXES_IPWARE_META_PRECEDENCE_ORDER:
        value = request.META.get(key, "")
        if value:
            return value.split(",")[-1].strip()
    return None


def lockout_message(request) -> str:
    minutes = round(get_cool_off(request).total_seconds() / 60)
    return _("登录失败次数过多，该手机号或当前网络已被暂时锁定。请%(minutes)d分钟后再试，或联系系统管理员解锁。") % {
        "minutes": minutes
    }


def lockout_response(request, original_response=None, credentials=None):
    """HTTP 429 with a Chinese message: JSON `{code, detail}` for the app API, a page for browsers."""
    detail = lockout_message(request)
    status = settings.AXES_HTTP_RESPONSE_CODE
    wants_json = request.path.startswith("/_allauth/") or "application/json" in request.headers.get("Accept", "")
    if wants_json:
        return JsonResponse({"code": "login_locked", "detail": detail}, status=status)
    return render(request, "admin/login_locked.html", {"title": _("登录已锁定"), "detail": detail}, status=status)
