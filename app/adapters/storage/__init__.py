"""Storage of users and their accounts, behind the interface in `base`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from app.adapters.ecb import PACKAGED_HISTORY, read_rates
from app.adapters.storage.memory import InMemoryAccountRepository
from app.adapters.storage.memory_rates import InMemoryRates
from app.adapters.storage.revisions import with_revision_board
from app.config import ConfigurationError
from app.services.repositories import Store

if TYPE_CHECKING:
    from app.adapters.storage.replicas import ReplicaReads
    from app.adapters.storage.sql import SqlAccountRepository


def sql_repository(
    url: str, settings: Mapping[str, Any], replica: bool = False
) -> SqlAccountRepository:
    """A repository on the database at `url`, whose schema must be up to date; a replica's is
    its primary's, and one that cannot be reached yet is left out until it can (replicas.py)."""
    # Imported here, not above: SQLAlchemy and Alembic add to every start (a measurable pause),
    # which the in-memory default (and every fixture server) would pay for nothing.
    from app.adapters.storage.engine import make_engine, reaching
    from app.adapters.storage.migrate import is_current
    from app.adapters.storage.sql import SqlAccountRepository

    engine = make_engine(
        url,
        pool_size=settings["DB_POOL_SIZE"],
        max_overflow=settings["DB_MAX_OVERFLOW"],
        pool_timeout=settings["DB_POOL_TIMEOUT"],
        connect_timeout=settings["DB_CONNECT_TIMEOUT"],
        statement_timeout_ms=settings["DB_STATEMENT_TIMEOUT_MS"],
        transaction_pooling=bool(settings["DB_TRANSACTION_POOLING"]),
    )
    if replica:
        return SqlAccountRepository(engine)
    with reaching(engine):
        current = is_current(engine)
    if not current:
        where = f"database {engine.url.render_as_string(hide_password=True)}"
        raise ConfigurationError(
            f"{where}: its schema is not up to date; run `accounts-service db upgrade` first"
        )
    return SqlAccountRepository(engine)


def replica_urls(setting: str | Sequence[str] | None) -> list[str]:
    """READ_REPLICA_URL's URLs: a list, or one string of URLs separated by commas."""
    listed = setting.split(",") if isinstance(setting, str) else setting or []
    return [url.strip() for url in listed if url.strip()]


def build_stores(settings: Mapping[str, Any]) -> tuple[Store, ReplicaReads | None]:
    """The store for writes, and what reads read replicas, when they are configured."""
    url = settings["DATABASE_URL"]
    if not url:
        # The ECB's history the package ships, read at the first conversion: no command needed.
        packaged = InMemoryRates(lambda: read_rates(PACKAGED_HISTORY.read_bytes()))
        return InMemoryAccountRepository({}, packaged), None
    primary = sql_repository(url, settings)
    on_postgresql = primary.dialect == "postgresql"
    replicas = replica_urls(settings["READ_REPLICA_URL"])
    revisions = settings["REVISIONS"]
    if revisions not in ("database", "redis"):
        raise ConfigurationError(f"REVISIONS must be 'database' or 'redis', not {revisions!r}")
    if replicas and (revisions != "redis" or not on_postgresql):
        # Which replica may serve a user is on the board (app/adapters/storage/replicas.py).
        raise ConfigurationError(
            "READ_REPLICA_URL needs PostgreSQL and REVISIONS=redis, where each user's last "
            "write position is kept for every host"
        )
    if revisions == "database":
        return primary, None
    if not settings["REDIS_URL"]:
        raise ConfigurationError("REVISIONS=redis needs REDIS_URL")
    # Every write leaves its position on PostgreSQL, so that hosts with replicas can use it
    # whatever the writing host's own settings are.
    written_position = primary.written_position if on_postgresql else None
    board = with_revision_board(primary, settings, written_position)
    # Duck-typed on purpose: it answers every method the interface has, by delegation.
    boarded: Store = board  # type: ignore[assignment]
    if not replicas:
        return boarded, None
    from app.adapters.storage.replicas import ReplicaReads

    return boarded, ReplicaReads(
        board,
        [sql_repository(url, settings, replica=True) for url in replicas],
        primary.written_position,
        float(settings["READ_REPLICA_MAX_LAG_SECONDS"]),
    )
