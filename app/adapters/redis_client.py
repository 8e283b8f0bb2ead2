"""Redis clients from ACCOUNTS_REDIS_URL: one server (`redis://`, `rediss://`, `unix://`), or a
Redis Cluster (`redis+cluster://host:port[,host:port…]`: startup nodes, the rest discovered).

Everything that uses Redis (the response cache, the revision board, readiness, and the rate
limits through the `limits` library, which reads the same URL) takes its client from here. Keys
that one step touches together share a hash tag (`{user}`), so a cluster keeps them on one slot.

A cluster's client asks a node for the slot map when it is made: one made here waits for its
first use, so that a cluster that is down at start costs the requests their fallback (the
database, memory), not the start.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

CLUSTER_SCHEME = "redis+cluster"

#: What a client may raise when Redis (or part of a cluster) cannot answer: a cluster's client
#: raises some errors (a slot no node serves) outside RedisError.
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)


def cluster_nodes(url: str) -> list[ClusterNode]:
    """The startup nodes of a `redis+cluster://` URL."""
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    nodes = []
    for location in netloc.split(","):
        host, _, port = location.rpartition(":")
        nodes.append(ClusterNode(host or "127.0.0.1", int(port or 6379)))  # type: ignore[no-untyped-call]
    return nodes


def _connect(url: str, timeout_seconds: float) -> redis.Redis | RedisCluster:
    timeouts: dict[str, Any] = {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
    }
    if urlsplit(url).scheme != CLUSTER_SCHEME:
        return redis.Redis.from_url(url, retry_on_timeout=False, **timeouts)
    parts = urlsplit(url)
    return RedisCluster(
        startup_nodes=cluster_nodes(url),
        username=parts.username,
        password=parts.password,
        # One try: a node that does not answer is the caller's to fall back from (each caller
        # then pauses Redis for a second), not a wait of several timeouts.
        retry=Retry(NoBackoff(), 0),
        require_full_coverage=False,
        **timeouts,
    )


class LazyRedis:
    """A client made at its first use (and made again after that failed)."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self._url = url
        self._timeout = timeout_seconds
        self._client: redis.Redis | RedisCluster | None = None
        self._kept: KeptConnections | None = None
        self._lock = threading.Lock()

    def __call__(self) -> redis.Redis | RedisCluster:
        """The client; raises one of REDIS_ERRORS when a cluster's nodes cannot be reached."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = _connect(self._url, self._timeout)
                    if isinstance(self._client, redis.Redis):
                        self._kept = KeptConnections(self._client)
                client = self._client
        return client

    def kept(self) -> KeptConnections | None:
        """Connections kept per thread, on one Redis server; None on a cluster."""
        self()
        return self._kept

    def close(self) -> None:
        with self._lock:
            if self._kept is not None:
                self._kept.close()
                self._kept = None
            if self._client is not None:
                self._client.close()
                self._client = None


def packed(*commands: Sequence[str | bytes]) -> bytes:
    """Commands in Redis's protocol (RESP), ready to send at once."""
    parts = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for argument in command:
            value = argument.encode() if isinstance(argument, str) else argument
            parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return b"".join(parts)


class KeptConnections:
    """For the busiest read (a revision per cached request, app/adapters/storage/revisions.py):
    one connection per thread, made once and kept, and commands packed by the caller, so that a
    round trip skips the pool's checkout and redis-py's command machinery, which cost about as
    much as the round trip itself (bench/README.md). One Redis server only: a cluster's commands
    go through its client, which knows the slots."""

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        # redis-py's connections are untyped: Any, here.
        self._make: Callable[[], Any] = lambda: pool.connection_class(**pool.connection_kwargs)
        self._local = threading.local()
        self._made: list[Any] = []

    def close(self) -> None:
        for connection in self._made:
            connection.disconnect()
        self._made.clear()

    def round_trip(self, commands: bytes, replies: int) -> list[Any]:
        """Sends `commands` (see `packed`) and reads `replies` answers; a connection that fails
        is dropped, and the next call makes another."""
        kept = getattr(self._local, "kept", None)
        if kept is None or kept[0] != os.getpid():  # threads do not survive a fork, but be sure
            kept = (os.getpid(), self._make())
            self._local.kept = kept
            self._made.append(kept[1])
        connection = kept[1]
        try:
            connection.send_packed_command([commands], check_health=False)
            return [connection.read_response() for _ in range(replies)]
        except BaseException:
            connection.disconnect()
            self._local.kept = None
            self._made.remove(connection)
            raise
