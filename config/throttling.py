"""The API's rate limits as fixed-window counters: one cache round trip per request and limit.

DRF's throttles keep a list of every request's time in the window and write it back whole on each
request: a read and a write, with the list pickled both ways, on every API call. A shed-load limit
does not need that precision. Here each (caller, scope) has one counter that the window's first
request starts and that expires with the window; a request is let through while the counter is
within the rate. On Redis (config.cache.RedisCache) that is one script call; any other cache (the
embedded default) gets add + incr.

The scopes, rates and whom each counts are DRF's (`anon` by address, `user` by account), so
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] and NUM_PROXIES mean what DRF documents.
"""

from django.core.cache import cache as default_cache
from rest_framework import throttling


def hit_window(cache, key: str, seconds: int) -> tuple[int, float]:
    """One hit on the window counter `key`: (hits in this window so far, seconds until it ends)."""
    if hasattr(cache, "hit_window"):
        return cache.hit_window(key, seconds)
    cache.add(key, 0, seconds)
    try:
        return cache.incr(key), float(seconds)
    except ValueError:  # the window ended between add and incr: this hit starts the next one
        cache.add(key, 1, seconds)
        return 1, float(seconds)


class WindowCounterThrottle(throttling.SimpleRateThrottle):
    cache = default_cache
    # Not DRF's names: a DRF throttle's history (a list) under them would not count as a number.
    cache_format = "throttle-window:%(scope)s:%(ident)s"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        hits, self.left = hit_window(self.cache, self.key, self.duration)
        return hits <= self.num_requests

    def wait(self):
        return max(self.left, 1.0)


class AnonRateThrottle(WindowCounterThrottle, throttling.AnonRateThrottle):
    """Anonymous callers, by address (`anon`)."""


class UserRateThrottle(WindowCounterThrottle, throttling.UserRateThrottle):
    """Signed-in callers by account, anonymous ones by address (`user`)."""


class SignedInRateThrottle(UserRateThrottle):
    """The `user` limit, for signed-in callers only. DRF's UserRateThrottle also counts anonymous
    callers, by address, on top of the `anon` limit that already does: a cache round trip for
    nothing on every anonymous request."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class BookingRateThrottle(UserRateThrottle):
    """A tighter limit on the calls that take or move a place. It only sheds load: every limit that
    matters (places, per-person limits) is enforced by the database inside the booking services."""

    scope = "booking"
