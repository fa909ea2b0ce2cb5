"""The Redis cache backend (config/cache.py): Django's, with one redis-py client reused per pool."""

import pytest

from config.cache import RedisCache


def test_the_redis_cache_works_and_reuses_one_client():
    cache = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": "test-cache-backend"})
    try:
        cache.set("k", {"places": 3}, 30)
        assert cache.get("k") == {"places": 3}
        assert cache.add("k", 1) is False
        cache.add("n", 0)
        assert cache.incr("n", 2) == 2
        assert cache._cache.get_client() is cache._cache.get_client(write=True)  # one client, reused
    finally:
        cache.delete_many(["k", "n"])


def test_incr_is_one_script_call_and_keeps_djangos_contract():
    cache = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": "test-cache-incr"})
    try:
        with pytest.raises(ValueError):
            cache.incr("missing")
        assert cache.get("missing") is None  # refused, not created
        cache.set("n", 5, 30)
        assert cache.incr("n", 3) == 8 and cache.decr("n", 10) == -2 and cache.get("n") == -2
        client = cache._cache.get_client(write=True)
        client.script_flush()  # a server that lost the script (restart, failover) still answers
        assert cache.incr("n") == -1
    finally:
        cache.delete_many(["missing", "n"])
