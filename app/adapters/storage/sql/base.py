"""What every part of the SQL store shares: its engine, transactions (its own, or the open unit
of work's), connections for reads, the user's row lock, and why a statement matched nothing.

Every write is one statement, or one transaction, whose outcome the database itself decides:
constraints refuse duplicates, and `UPDATE … WHERE version = :expected` is the compare-and-set.
So several gunicorn worker processes, or several machines, can share one database safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection as Connection_
from sqlalchemy import (
    Engine,
    Table,
    exc,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.adapters.storage.tables import (
    accounts,
    connections,
    users,
)
from app.domain.connections import (
    Connection,
    SyncJob,
)
from app.domain.errors import (
    AccountNotFound,
    StorageUnavailable,
    UserNotFound,
    VersionConflict,
)
from app.services import unit as unit_of_work
from app.services.repositories import new_revision

# INSERT … ON CONFLICT is spelled the same in both, but SQLAlchemy builds it per dialect.
DIALECT_INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def replacing(
    statement: postgresql.Insert | sqlite.Insert, key: Sequence[str], columns: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`statement` (one of DIALECT_INSERTS'), which, where a row of the same `key` is there
    already, replaces that row's `columns` instead."""
    return statement.on_conflict_do_update(
        index_elements=key, set_={name: statement.excluded[name] for name in columns}
    )


Kept = TypeVar("Kept", Connection, SyncJob)


class NothingChanged(Exception):
    """Ends a sync's transaction without a trace when it would write nothing."""


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """A database that cannot be reached, or answers too slowly, becomes a 503, not a 500."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
        raise StorageUnavailable() from error


class SqlBase:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        self._engine.dispose()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def host(self) -> str:
        """Where the database is, as `host:port`."""
        url = self._engine.url
        return f"{url.host or 'localhost'}:{url.port or 5432}"

    def ping(self) -> None:
        with self._reading() as connection:
            connection.scalar(select(literal(True)))

    @contextmanager
    def _own_transaction(self) -> Iterator[Connection_]:
        with unavailable_on_failure(), self._engine.begin() as connection:
            yield connection

    @contextmanager
    def _transaction(self) -> Iterator[Connection_]:
        """A connection in a transaction that commits on success: the open unit of work's
        (app/services/unit.py), which commits when the unit does, or one of its own."""
        unit = unit_of_work.current()
        if unit is None:
            with self._own_transaction() as connection:
                yield connection
        else:
            with unavailable_on_failure():
                yield unit.join(self, self._own_transaction)

    @contextmanager
    def _reading(self) -> Iterator[Connection_]:
        """A connection for reads that each need one statement: no BEGIN and COMMIT round trips;
        inside a unit of work that has written, its transaction, which sees what it wrote."""
        unit = unit_of_work.current()
        joined = None if unit is None else unit.joined(self)
        if joined is not None:
            with unavailable_on_failure():
                yield joined
            return
        with unavailable_on_failure(), self._autocommit.connect() as connection:
            yield connection

    @staticmethod
    def _touch(connection: Connection_, user_id: str) -> None:
        """Gives the user a new revision, or raises UserNotFound.

        Every write does this first, in its transaction: it also takes the user's row lock
        (SQLite's write lock), so writes to one user's accounts take turns, each reading what the
        one before it wrote.
        """
        touched = connection.execute(
            update(users).where(users.c.id == user_id).values(revision=new_revision())
        )
        if touched.rowcount == 0:
            raise UserNotFound(user_id)

    @staticmethod
    def _count(connection: Connection_, user_id: str) -> int:
        found = connection.scalar(
            select(func.count()).select_from(accounts).where(accounts.c.user_id == user_id)
        )
        return int(found or 0)

    @staticmethod
    def _connection_exists(connection: Connection_, user_id: str, connection_id: str) -> bool:
        found = select(literal(True)).where(
            connections.c.user_id == user_id, connections.c.id == connection_id
        )
        return connection.scalar(found) is not None

    @staticmethod
    def _user_exists(connection: Connection_, user_id: str) -> bool:
        return connection.scalar(select(literal(True)).where(users.c.id == user_id)) is not None

    def _missing(self, connection: Connection_, user_id: str, account_id: str) -> Exception:
        """Why a statement about one account matched no row."""
        if not self._user_exists(connection, user_id):
            return UserNotFound(user_id)
        found = connection.scalar(
            select(literal(True)).where(accounts.c.user_id == user_id, accounts.c.id == account_id)
        )
        return (
            VersionConflict(user_id, account_id) if found else AccountNotFound(user_id, account_id)
        )

    def _missing_one(
        self, connection: Connection_, user_id: str, not_found: Exception
    ) -> Exception:
        """Why a statement about one of the user's rows matched none."""
        return not_found if self._user_exists(connection, user_id) else UserNotFound(user_id)
