"""Storage of users and their accounts, behind the interface in `base`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.adapters.storage.memory import InMemoryAccountRepository
from app.adapters.storage.revisions import with_revision_board
from app.config import ConfigurationError
from app.services.repositories import Store

if TYPE_CHECKING:
    from app.adapters.storage.sql import SqlAccountRepository


def sql_repository(url: str, settings: Mapping[str, Any]) -> SqlAccountRepository:
    """A repository on the database at `url`, whose schema must be up to date."""
    # Imported here, not above: SQLAlchemy and Alembic add to every start (a measurable pause),
    # which the in-memory default (and every fixture server) would pay for nothing.
    from sqlalchemy import exc

    from app.adapters.storage.engine import make_engine
    from app.adapters.storage.migrate import is_current
    from app.adapters.storage.sql import SqlAccountRepository

    engine = make_engine(
        url,
        pool_size=settings["DB_POOL_SIZE"],
        max_overflow=settings["DB_MAX_OVERFLOW"],
        pool_timeout=settings["DB_POOL_TIMEOUT"],
        connect_timeout=settings["DB_CONNECT_TIMEOUT"],
        statement_timeout_ms=settings["DB_STATEMENT_TIMEOUT_MS"],
    )
    where = f"database {engine.url.render_as_string(hide_password=True)}"
    try:
        current = is_current(engine)
    except (exc.DBAPIError, exc.TimeoutError) as error:
        # libpq spreads its reason over several lines; the operator gets one.
        reason = " ".join(str(error.orig if isinstance(error, exc.DBAPIError) else error).split())
        raise ConfigurationError(f"{where}: cannot reach it: {reason}") from None
    if not current:
        raise ConfigurationError(
            f"{where}: its schema is not up to date; run `accounts-service db upgrade` first"
        )
    return SqlAccountRepository(engine)


def build_stores(settings: Mapping[str, Any]) -> tuple[Store, Store | None]:
    """The store for writes, and a replica for reads when one is configured."""
    url = settings["DATABASE_URL"]
    if not url:
        return InMemoryAccountRepository({}), None
    replica_url = settings["READ_REPLICA_URL"]
    primary: Store = sql_repository(url, settings)
    revisions = settings["REVISIONS"]
    if revisions == "redis":
        if not settings["REDIS_URL"]:
            raise ConfigurationError("REVISIONS=redis needs REDIS_URL")
        if replica_url:
            # A replica's revision may be behind the primary's; kept in Redis, it would outlive
            # the replica's lag (app/adapters/storage/revisions.py).
            raise ConfigurationError("REVISIONS=redis cannot be used with READ_REPLICA_URL")
        primary = with_revision_board(primary, settings)
    elif revisions != "database":
        raise ConfigurationError(f"REVISIONS must be 'database' or 'redis', not {revisions!r}")
    return primary, sql_repository(replica_url, settings) if replica_url else None
