"""The API's fixed-window throttles (config/throttling.py): one counter per caller and scope."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from config.cache import RedisCache
from config.throttling import hit_window

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_cache():
    cache = RedisCache(REDIS, {"KEY_PREFIX": "test-throttle"})
    cache.delete_many(["w", "bare"])
    yield cache
    cache.delete_many(["w", "bare"])


def test_a_window_counts_its_hits_and_ends_with_its_time(redis_cache):
    assert hit_window(redis_cache, "w", 60)[0] == 1
    hits, left = hit_window(redis_cache, "w", 60)
    assert hits == 2 and 59 < left <= 60
    client = redis_cache._cache.get_client(write=True)
    assert 59_000 < client.pttl(redis_cache.make_key("w")) <= 60_000  # the counter expires with the window


def test_more_hits_do_not_stretch_the_window(redis_cache):
    client = redis_cache._cache.get_client(write=True)
    hit_window(redis_cache, "w", 60)
    client.pexpire(redis_cache.make_key("w"), 500)  # half a second of this window left
    hits, left = hit_window(redis_cache, "w", 60)
    assert hits == 2 and left <= 0.5


def test_a_counter_without_expiry_gets_one_and_a_lost_script_is_loaded_again(redis_cache):
    client = redis_cache._cache.get_client(write=True)
    client.set(redis_cache.make_key("bare"), 7)  # no TTL: would otherwise throttle forever
    client.script_flush()
    hits, left = hit_window(redis_cache, "bare", 10)
    assert hits == 8 and left == 10
    assert 0 < client.pttl(redis_cache.make_key("bare")) <= 10_000


def test_without_redis_the_window_is_add_and_incr(settings):
    from django.core.cache import cache

    assert not hasattr(cache, "hit_window")  # the tests' locmem cache
    assert [hit_window(cache, "w", 60)[0] for _ in range(3)] == [1, 2, 3]
    cache.delete("w")  # the window ended
    assert hit_window(cache, "w", 60) == (1, 60.0)


@pytest.fixture
def api_on_redis(settings, client):
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": REDIS, "KEY_PREFIX": "test-api"}}
    from django.core.cache import cache

    cache.clear()
    yield client
    cache.clear()


@pytest.mark.django_db
def test_through_the_api_on_redis_one_call_per_limit_and_a_429_says_when(api_on_redis, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "100/min", "booking": None})
    calls = []
    real = type(cache._connections[cache._alias]).hit_window

    def counting(self, key, seconds):
        calls.append(key)
        return real(self, key, seconds)

    monkeypatch.setattr(type(cache._connections[cache._alias]), "hit_window", counting)
    assert [api_on_redis.get("/api/v1/hospitals/").status_code for _ in range(2)] == [200, 200]
    assert len(calls) == 2  # anonymous: the anon limit only, one call each
    refused = api_on_redis.get("/api/v1/hospitals/")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60


@pytest.mark.django_db
def test_a_history_list_left_by_drfs_throttle_is_not_read_as_a_counter(api_on_redis, monkeypatch):
    """Deployed over DRF's throttles: their lists (under DRF's key names) are not this counter's."""
    from django.core.cache import cache

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "5/min", "user": "100/min", "booking": None})
    cache.set("throttle_anon_127.0.0.1", [1.0, 2.0], 60)
    assert api_on_redis.get("/api/v1/hospitals/").status_code == 200
