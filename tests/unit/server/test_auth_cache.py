"""The upload authentication cache: entries expire, the least recently used go first, and a
forgotten token is looked up again."""

from __future__ import annotations

from jarvis_server.auth import AuthCache, Caller


def _caller(n: int) -> Caller:
    return Caller(device_id=n, device=f"d{n}", admin=False, token_hash=f"hash-{n}")


def test_entries_expire_after_the_ttl() -> None:
    """A verified token is served from memory until `ttl` seconds have passed, then not."""
    now = [0.0]
    cache = AuthCache(ttl=30, clock=lambda: now[0])
    cache.put(_caller(1))
    now[0] = 29.9
    assert cache.get("hash-1") == _caller(1)
    now[0] = 30.0
    assert cache.get("hash-1") is None


def test_least_recently_used_entry_is_dropped_and_forget_works() -> None:
    """Past max_entries the entry used longest ago goes; forget() drops one at once."""
    cache = AuthCache(max_entries=2, clock=lambda: 0.0)
    cache.put(_caller(1))
    cache.put(_caller(2))
    assert cache.get("hash-1") is not None  # 1 is now the most recently used
    cache.put(_caller(3))
    assert cache.get("hash-2") is None
    assert cache.get("hash-1") is not None
    cache.forget("hash-1")
    assert cache.get("hash-1") is None
    assert cache.get("hash-3") == _caller(3)
