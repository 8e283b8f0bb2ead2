"""Real servers for the tests: a throwaway database on PostgreSQL, Redis and RabbitMQ.

PostgreSQL is the server at ACCOUNTS_TEST_POSTGRES_URL (default: the local one, database `test`),
Redis the one at ACCOUNTS_TEST_REDIS_URL, RabbitMQ the one at ACCOUNTS_TEST_RABBITMQ_URL. When one
cannot be reached the tests that need it are skipped, with the reason, unless
ACCOUNTS_REQUIRE_SERVICES=1 (as .ci/run sets), where they fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.adapters.storage.engine import make_engine
from app.adapters.storage.memory import InMemoryAccountRepository
from app.adapters.storage.migrate import upgrade
from app.adapters.storage.revisions import RedisRevisions, RevisionBoardStore
from app.adapters.storage.sql import SqlAccountRepository
from app.domain.accounts import Account
from app.services.repositories import Store
from harness.engines import RedisCluster, missing, pgbouncer
from harness.engines import redis_cluster as start_redis_cluster
from harness.tcp_proxy import TcpProxy

ADMIN_URL = os.environ.get(
    "ACCOUNTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def services_required() -> bool:
    return os.environ.get("ACCOUNTS_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{reason} (ACCOUNTS_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)


def _fresh_database() -> Iterator[str]:
    """The URL of a fresh, empty database, dropped afterwards."""
    try:
        admin = _admin()
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL at {ADMIN_URL} is unreachable: {str(error).strip()}")
    name = f"accounts_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty database for the session."""
    yield from _fresh_database()


@pytest.fixture(scope="session")
def other_postgres_url() -> Iterator[str]:
    """Another one, for tests that must not meet what others left in the first."""
    yield from _fresh_database()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A fresh, empty database for one test."""
    yield from _fresh_database()


def migrated(url: str, transaction_pooling: bool = False) -> Engine:
    engine = make_engine(url, transaction_pooling=transaction_pooling)
    upgrade(engine)
    return engine


def emptied(url: str) -> str:
    """`url`, migrated and holding no data (the PostgreSQL database is shared by the session)."""
    engine = migrated(url)
    SqlAccountRepository(engine).replace_all({})
    engine.dispose()
    return url


REDIS_URL = os.environ.get("ACCOUNTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server's URL, once it has answered a PING."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {error}")
    finally:
        client.close()
    return REDIS_URL


def _engines_or_unavailable(*commands: str) -> None:
    if lacking := missing(*commands):
        unavailable(f"not installed: {', '.join(lacking)} (.ci/run installs them)")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A three-master Redis Cluster of this session's own, on free ports."""
    _engines_or_unavailable("redis-server", "redis-cli")
    with start_redis_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    return redis_cluster.url


@pytest.fixture(scope="session")
def pgbouncer_url() -> Iterator[str]:
    """A fresh database of the PostgreSQL server, through PgBouncer in transaction mode."""
    _engines_or_unavailable("pgbouncer")
    for url in _fresh_database():
        parsed = make_url(url)
        with pgbouncer(str(parsed.database), parsed.port or 5432) as pooled:
            yield pooled


def boarded(store: SqlAccountRepository, redis_url: str) -> Store:
    """`store`, its revisions on a Redis board (or cluster) of a namespace of its own."""
    board = RedisRevisions(redis_url, 1.0, secrets.token_hex(8))
    found: Store = RevisionBoardStore(store, board)  # type: ignore[assignment]
    return found


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    """A proxy in front of Redis, for a test to cut and restore."""
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    yield proxy
    proxy.stop()


RABBITMQ_URL = os.environ.get("ACCOUNTS_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """RabbitMQ's URL, once a connection to it opened."""
    import pika

    try:
        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).close()
    except pika.exceptions.AMQPError as error:
        unavailable(f"RabbitMQ at {RABBITMQ_URL} is unreachable: {error!r}")
    return RABBITMQ_URL


#: Every backend a store can be, as the contract suite runs them.
STORE_KINDS = [
    "memory",
    "sqlite",
    "postgresql",
    "postgresql, revisions in redis",
    "postgresql through pgbouncer, revisions in a redis cluster",
]


def store_of(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    users: Mapping[str, Sequence[Account]],
) -> Store:
    """A store of `kind` (one of STORE_KINDS) holding exactly `users`; close it when done."""
    if kind == "memory":
        return InMemoryAccountRepository(users)
    pooled = "pgbouncer" in kind
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        # Each PostgreSQL variant has a database of its own: a few tables (webhook deliveries,
        # idempotency keys) outlive replace_all.
        fixture = {
            "postgresql": "postgres_url",
            "postgresql, revisions in redis": "other_postgres_url",
        }
        url = request.getfixturevalue(fixture.get(kind, "pgbouncer_url"))
    database = SqlAccountRepository(migrated(url, transaction_pooling=pooled))
    store: Store = database
    if "redis" in kind:
        where = "redis_cluster_url" if "cluster" in kind else "redis_url"
        store = boarded(database, request.getfixturevalue(where))
    store.replace_all(users)
    return store
