"""Database engines for the SQL repository, with every wait bounded.

A request must fail fast (and answer 503) when the database is away, rather than hang a worker
thread: connecting, waiting for a pooled connection and running a statement each have a limit.

A pooled connection that sat unused for a second is tested before use, so after the database comes
back the pool replaces its dead connections by itself. SQLAlchemy's `pool_pre_ping` would test
every connection at every checkout: a round trip per request, for connections that answered a
moment ago (what that cost is measured in bench/README.md).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidatePoolError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.adapters.exact_json import dumps_bytes, loads_exact
from app.adapters.storage.deadlines import deadlines
from app.config import ConfigurationError

SUPPORTED = ("sqlite", "postgresql")

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()

#: A pooled connection unused for longer than this is tested before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _forget_connections_after_fork() -> None:
    # gunicorn forks its workers after the app (and its engine) was made in the master. A child
    # must not use the parent's sockets; dispose(close=False) drops them without closing them,
    # which would cut the parent's connections too.
    for engine in list(_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_connections_after_fork)


def database_url(url: str) -> URL:
    """The URL, with plain `postgresql://` meaning the psycopg 3 driver we install."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigurationError(f"database URL {url!r}: {error}") from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise ConfigurationError(
            f"database URL {url!r}: only {' and '.join(SUPPORTED)} are supported"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 3,
    connect_timeout: int = 3,
    statement_timeout_ms: int = 5000,
    transaction_pooling: bool = False,
) -> Engine:
    """`transaction_pooling`: a pooler that hands each transaction to any server connection
    (PgBouncer in transaction mode) stands between, and passes neither startup options nor
    server-side prepared statements: the server's statement timeout is then the role's
    (`ALTER ROLE … SET statement_timeout`), and this process's own bound on every round trip
    (statement_timeout_ms and a second) still holds."""
    parsed = database_url(url)
    options: dict[str, Any] = {
        "pool_timeout": pool_timeout,
        # Details are JSON holding Decimals: written with their digits, read back as Decimals.
        "json_serializer": lambda value: dumps_bytes(value).decode(),
        "json_deserializer": loads_exact,
    }
    if parsed.get_backend_name() == "sqlite":
        # The busy timeout: how long a writer waits for another process's write lock.
        options["connect_args"] = {"timeout": statement_timeout_ms / 1000}
        engine = create_engine(parsed, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        _ping_when_idle(engine)
    else:
        connect_args: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            # If the database host vanishes mid-query, nothing answers at all: these make the
            # kernel give up on the connection within seconds instead of minutes.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": statement_timeout_ms,
        }
        if transaction_pooling:
            connect_args["prepare_threshold"] = None
        else:
            connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
        options["connect_args"] = connect_args
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=max_overflow, **options)
        # PostgreSQL's own timeout answers first whenever the server can answer at all.
        bound = statement_timeout_ms / 1000 + 1
        _bound_every_round_trip(engine, bound)
        _ping_when_idle(engine, bound)
    _engines.add(engine)
    return engine


@contextmanager
def reaching(engine: Engine) -> Iterator[None]:
    """Around a first use of `engine`: a database that cannot be reached becomes a
    ConfigurationError of one line that says why."""
    try:
        yield
    except (DBAPIError, PoolTimeoutError) as error:
        # libpq spreads its reason over several lines; the operator gets one.
        reason = " ".join(str(error.orig if isinstance(error, DBAPIError) else error).split())
        if "unsupported startup parameter" in reason:
            reason += " (a transaction pooler in front? set ACCOUNTS_DB_TRANSACTION_POOLING=true)"
        where = f"database {engine.url.render_as_string(hide_password=True)}"
        raise ConfigurationError(f"{where}: cannot reach it: {reason}") from None


def _bound_every_round_trip(engine: Engine, seconds: float) -> None:
    """Every statement, commit and rollback gets an answer within `seconds`, or its connection
    is cut (app/adapters/storage/deadlines.py): a database path that stays open but goes silent
    costs a 503, never a hung request."""

    def before_statement(*args: Any) -> None:
        _, cursor, _, _, _, executemany = args
        # A many-row statement (seeding) pipelines many round trips: bounded by the server only.
        if not executemany:
            deadlines.arm(cursor.connection, seconds)

    def after_statement(*args: Any) -> None:
        deadlines.disarm(args[1].connection)

    def before_ending(connection: Any) -> None:
        if not connection.invalidated:  # one already cut or lost has nothing left to wait for
            deadlines.arm(connection.connection.dbapi_connection, seconds)

    def before_reset(dbapi_connection: Any, *_: Any) -> None:
        deadlines.arm(dbapi_connection, seconds)

    def done_with(dbapi_connection: Any, *_: Any) -> None:
        # Back in the pool: whatever ended its work (a commit, a rollback, a reset) has answered,
        # and after a statement that failed, the rollback or the reset armed it again. Closed or
        # invalidated: its socket's number may soon belong to another connection.
        if dbapi_connection is not None:
            deadlines.disarm(dbapi_connection)

    event.listen(engine, "before_cursor_execute", before_statement)
    event.listen(engine, "after_cursor_execute", after_statement)
    event.listen(engine, "commit", before_ending)
    event.listen(engine, "rollback", before_ending)
    event.listen(engine, "reset", before_reset)
    for ending in ("checkin", "invalidate", "close", "close_detached"):
        event.listen(engine, ending, done_with)


def _ping_when_idle(engine: Engine, within: float | None = None) -> None:
    """`within`: how long the ping may take before its connection is cut (deadlines.py)."""

    def note_return(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")  # None: connected just now
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return
        if within is not None:
            deadlines.arm(dbapi_connection, within)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # As pool_pre_ping does: the pool drops this connection and every one older than it
            # (a restarted database cut them all), then hands out a new one.
            raise InvalidatePoolError() from error
        finally:
            deadlines.disarm(dbapi_connection)

    event.listen(engine, "checkin", note_return)
    event.listen(engine, "checkout", ping_if_idle)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL lets readers go on while one process writes; FULL makes each commit survive power loss,
    # not only a crash of the process.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()
