"""Connections and their sync jobs in the SQL store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    Table,
    delete,
    exc,
    func,
    insert,
    select,
    text,
    update,
)

from app.adapters.storage.sql.base import DIALECT_INSERTS, Kept, SqlBase
from app.adapters.storage.sql.rows import connection_from, connection_row, job_from, job_row
from app.adapters.storage.tables import (
    UNFINISHED_SQL,
    accounts,
    connections,
    sync_jobs,
)
from app.domain.connections import (
    UNFINISHED,
    Connection,
    ConnectionStatus,
    SyncJob,
)
from app.domain.errors import (
    AlreadyLinked,
    ConnectionNotFound,
    StorageUnavailable,
    SyncJobNotFound,
    UserNotFound,
)


class SqlConnections(SqlBase):
    def add_connection(self, user_id: str, connection: Connection) -> Connection:
        stored = replace(connection, version=1)
        try:
            with self._transaction() as connection_:
                if not self._user_exists(connection_, user_id):
                    raise UserNotFound(user_id)
                connection_.execute(insert(connections).values(connection_row(user_id, stored)))
        except exc.IntegrityError:
            raise self._linked_already(user_id, connection) from None
        return stored

    def _linked_already(self, user_id: str, connection: Connection) -> AlreadyLinked:
        """The AlreadyLinked naming the connection `connection`'s login is (its insert lost)."""
        query = select(connections.c.id).where(
            connections.c.user_id == user_id,
            connections.c.provider == connection.provider,
            connections.c.institution_id == connection.institution_id,
            connections.c.fingerprint == connection.fingerprint,
        )
        with self._reading() as connection_:
            return AlreadyLinked(str(connection_.scalar(query)))

    def get_connection(self, user_id: str, connection_id: str) -> Connection:
        query = select(connections).where(
            connections.c.user_id == user_id, connections.c.id == connection_id
        )
        with self._reading() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise self._missing_one(
                    connection, user_id, ConnectionNotFound(user_id, connection_id)
                )
        return connection_from(row)

    def list_connections(self, user_id: str) -> list[Connection]:
        query = (
            select(connections).where(connections.c.user_id == user_id).order_by(connections.c.pk)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
            if not rows and not self._user_exists(connection, user_id):
                raise UserNotFound(user_id)
        return [connection_from(row) for row in rows]

    def find_connection(self, provider: str, item_id: str) -> tuple[str, Connection] | None:
        query = select(connections).where(
            connections.c.provider == provider, connections.c.item_id == item_id
        )
        with self._reading() as connection:
            row = connection.execute(query).first()
        return None if row is None else (row.user_id, connection_from(row))

    def due_connections(self, now: datetime, limit: int) -> list[tuple[str, Connection]]:
        query = (
            select(connections)
            .where(connections.c.next_sync_at <= now)
            .order_by(connections.c.next_sync_at)
            .limit(limit)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        return [(row.user_id, connection_from(row)) for row in rows]

    def count_stale(self, synced_before: datetime) -> int:
        query = select(func.count()).where(
            connections.c.status != str(ConnectionStatus.DISCONNECTED),
            connections.c.last_successful_sync < synced_before,
        )
        with self._reading() as connection:
            return int(connection.scalar(query) or 0)

    def modify_connection(
        self, user_id: str, connection_id: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        return self._modify(
            connections,
            user_id,
            connection_id,
            connection_from,
            connection_row,
            change,
            ConnectionNotFound(user_id, connection_id),
        )

    def _modify(
        self,
        table: Table,
        user_id: str,
        key: str,
        read: Callable[[Row[Any]], Kept],
        row_of: Callable[[str, Kept], dict[str, Any]],
        change: Callable[[Kept], Kept],
        not_found: Exception,
    ) -> Kept:
        """Stores `change(current)` in the user's row `key` of `table`, under its row lock."""
        where = [table.c.user_id == user_id, table.c.id == key]
        with self._transaction() as connection:
            # Claiming the row (a new version) locks it: concurrent changes take turns.
            claimed = connection.execute(
                update(table).where(*where).values(version=table.c.version + 1).returning(*table.c)
            ).first()
            if claimed is None:
                raise self._missing_one(connection, user_id, not_found)
            changed = replace(change(read(claimed)), version=claimed.version)
            connection.execute(update(table).where(*where).values(**row_of(user_id, changed)))
        return changed

    def delete_connection(self, user_id: str, connection_id: str) -> int:
        with self._transaction() as connection:
            self._touch(connection, user_id)  # its accounts go: the user's lists change
            removed = connection.execute(
                delete(accounts).where(
                    accounts.c.user_id == user_id, accounts.c.connection_id == connection_id
                )
            ).rowcount
            connection.execute(
                delete(sync_jobs).where(
                    sync_jobs.c.user_id == user_id, sync_jobs.c.connection_id == connection_id
                )
            )
            gone = connection.execute(
                delete(connections).where(
                    connections.c.user_id == user_id, connections.c.id == connection_id
                )
            ).rowcount
            if gone == 0:
                raise ConnectionNotFound(user_id, connection_id)
        return int(removed)

    def open_job(self, user_id: str, job: SyncJob) -> tuple[SyncJob, bool]:
        insert_ = DIALECT_INSERTS[self._engine.dialect.name]
        unfinished = select(sync_jobs).where(
            sync_jobs.c.user_id == user_id,
            sync_jobs.c.connection_id == job.connection_id,
            sync_jobs.c.status.in_([str(status) for status in UNFINISHED]),
        )
        # The unique index on unfinished jobs decides between callers racing: the one whose
        # insert finds the winner's job reads it. No statement fails on the way, so this works
        # inside a unit of work's transaction too (a failed one would end it on PostgreSQL).
        with self._transaction() as connection:
            if not self._connection_exists(connection, user_id, job.connection_id):
                raise self._missing_one(
                    connection, user_id, ConnectionNotFound(user_id, job.connection_id)
                )
            stored = replace(job, version=1)
            inserted = connection.execute(
                insert_(sync_jobs)
                .values(job_row(user_id, stored))
                .on_conflict_do_nothing(
                    index_elements=["user_id", "connection_id"],
                    index_where=text(UNFINISHED_SQL),
                )
                .returning(sync_jobs.c.id)
            ).first()
            if inserted is not None:
                return stored, True
            row = connection.execute(unfinished).first()
        if row is None:  # finished between the insert and the read: a caller may ask again
            raise StorageUnavailable()
        return job_from(row), False

    def get_job(self, user_id: str, job_id: str) -> SyncJob:
        query = select(sync_jobs).where(sync_jobs.c.user_id == user_id, sync_jobs.c.id == job_id)
        with self._reading() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise self._missing_one(connection, user_id, SyncJobNotFound(user_id, job_id))
        return job_from(row)

    def modify_job(
        self, user_id: str, job_id: str, change: Callable[[SyncJob], SyncJob]
    ) -> SyncJob:
        return self._modify(
            sync_jobs, user_id, job_id, job_from, job_row, change, SyncJobNotFound(user_id, job_id)
        )
