"""The response cache's backends (its interface and rules: app/services/cache.py).

Two backends: this process's memory (the default), or Redis, shared by every worker. Redis that is
down or slow is skipped for a second at a time, and the request is answered from the store.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from app.adapters.metrics import CACHE_ERRORS, CACHE_LOOKUPS
from app.adapters.pause import Pause
from app.adapters.redis_client import REDIS_ERRORS, LazyRedis
from app.config import ConfigurationError
from app.services.cache import CachedBody, CacheKey, ResponseCache

logger = logging.getLogger(__name__)

#: Each lookup's outcome counted, for every backend (ResponseCache counts through these).
_COUNTED = {outcome: CACHE_LOOKUPS.labels(outcome).inc for outcome in ("hit", "miss", "shared")}


class ProcessCache(ResponseCache):
    """Entries in this process's memory, least recently used dropped first past `max_bytes`.

    One entry per (user, variant): a newer revision replaces the older one in place.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(_COUNTED)
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, str], tuple[int, CachedBody]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> CachedBody | None:
        slot = (key.user_id, key.variant)
        with self._lock:
            found = self._entries.get(slot)
            if found is None or found[0] != key.revision:
                return None
            self._entries.move_to_end(slot)
            return found[1]

    def put(self, key: CacheKey, entry: CachedBody) -> None:
        size = len(entry.body)
        if size > self._max_bytes:
            return
        slot = (key.user_id, key.variant)
        with self._lock:
            replaced = self._entries.pop(slot, None)
            if replaced is not None:
                self._bytes -= len(replaced[1].body)
            self._entries[slot] = (key.revision, entry)
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body)


class RedisCache(ResponseCache):
    """Entries in Redis, shared by every worker process and machine, expiring after `ttl`.

    An entry is stored as `<etag> <accounts>\\n<body>` under a key that names the revision, so
    entries of older revisions are never read again and simply expire. A user's keys share the
    hash tag `{user}`: one slot of a cluster holds all of them.
    """

    def __init__(self, url: str, ttl_seconds: int, timeout_seconds: float) -> None:
        super().__init__(_COUNTED)
        self._client = LazyRedis(url, timeout_seconds)
        self._ttl = ttl_seconds
        self._pause = Pause("cache", "answering from the store")

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _name(key: CacheKey) -> str:
        return f"accounts-service:list:{{{key.user_id}}}:{key.revision}:{key.variant}"

    def _call(self, operation: Callable[[Any], Any]) -> Any:
        """`operation`'s result; None, with Redis paused, when Redis fails."""
        if self._pause.paused():
            return None
        try:
            result = operation(self._client())
        except REDIS_ERRORS as error:
            CACHE_ERRORS.inc()
            self._pause.failed(error)
            return None
        self._pause.answered()
        return result

    def get(self, key: CacheKey) -> CachedBody | None:
        stored = self._call(lambda client: client.get(self._name(key)))
        if stored is None:
            return None
        header, _, body = bytes(stored).partition(b"\n")
        etag, accounts = header.decode().split(" ")
        return CachedBody(body, etag, int(accounts))

    def put(self, key: CacheKey, entry: CachedBody) -> None:
        stored = f"{entry.etag} {entry.accounts}\n".encode() + entry.body
        self._call(lambda client: client.set(self._name(key), stored, ex=self._ttl))


def build_cache(config: Mapping[str, Any]) -> ResponseCache:
    backend = config["CACHE_BACKEND"]
    if backend == "process":
        return ProcessCache(int(config["CACHE_MAX_BYTES"]))
    if backend == "redis":
        if not config["REDIS_URL"]:
            raise ConfigurationError("CACHE_BACKEND=redis needs REDIS_URL")
        return RedisCache(
            str(config["REDIS_URL"]),
            int(config["CACHE_TTL_SECONDS"]),
            float(config["CACHE_REDIS_TIMEOUT_SECONDS"]),
        )
    raise ConfigurationError(f"CACHE_BACKEND must be 'process' or 'redis', not {backend!r}")
