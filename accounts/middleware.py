from allauth.core.exceptions import RateLimited
from django.http import HttpResponse
from django.utils.translation import gettext as _


class RateLimitedMiddleware:
    """allauth raises RateLimited from some flows (a repeated sign-up); answer 429, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RateLimited):
            return HttpResponse(_("操作过于频繁，请稍后再试。"), status=429, content_type="text/plain; charset=utf-8")
        return None
