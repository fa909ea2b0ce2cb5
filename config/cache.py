"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache operation. With
redis-py 7 that construction fills a response-callback table of about 170 entries each time:
measured here, about a quarter of a millisecond of Python per operation, several per API request
(the session, the throttles, the sold-out mark). redis-py clients are thread-safe and share the
pool, so one per pool is reused.

Django's `incr` asks EXISTS and then INCRBY: two round trips for every counter step (the release
minute's attempt counters take one per booking attempt). Here one Lua script does both in one.
`hit_window` counts a request against a fixed-window limit (the API throttles,
config/throttling.py) in one round trip as well: INCR, the window's expiry on its first hit, and
the time left, in one script.

Everything else is Django's backend, unchanged.
"""

from django.core.cache.backends import redis as django_redis

# INCRBY only a key that exists (Django's contract: a missing key is a ValueError, never created).
INCR_EXISTING = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end return false"
)

# INCR a window's counter; its first hit (or a counter that somehow lost its expiry) starts the
# window. Returns the count and the milliseconds left in the window.
HIT_WINDOW = (
    "local n = redis.call('INCR', KEYS[1]) local left = redis.call('PTTL', KEYS[1]) "
    "if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) left = tonumber(ARGV[1]) end return {n, left}"
)


class ReusedClientRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._scripts = {}

    def _script(self, client, source):
        script = self._scripts.get((id(client), source))
        if script is None:
            script = self._scripts.setdefault((id(client), source), client.register_script(source))
        return script

    def incr(self, key, delta):
        value = self.run_script(INCR_EXISTING, [key], [delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def run_script(self, source, keys, args):
        client = self.get_client(keys[0] if keys else None, write=True)
        return self._script(client, source)(keys=keys, args=args)

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def run_script(self, source: str, keys: list[str], args: list) -> object:
        """Run a Lua script (loaded once, by its hash) on the server. `keys` are the cache's keys as
        given to get/set; the script sees them made (prefix and version), as Redis stores them."""
        return self._cache.run_script(source, [self.make_and_validate_key(key) for key in keys], args)

    def hit_window(self, key, seconds):
        """Count one hit in the window `key` of `seconds`: (hits so far, seconds left in the window)."""
        count, left_ms = self.run_script(HIT_WINDOW, [key], [int(seconds * 1000)])
        return count, left_ms / 1000
