"""The whole SQL store at once: is it empty, seed, export, replace everything, prune, make balance
history's months, and where its WAL stands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import (
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)

from app.adapters.storage.sql.base import DIALECT_INSERTS, SqlBase
from app.adapters.storage.sql.history import record_written
from app.adapters.storage.sql.partitions import make_months
from app.adapters.storage.sql.rows import ACCOUNT_COLUMNS, CONTENT_COLUMNS, account_from, new_rows
from app.adapters.storage.tables import (
    accounts,
    idempotency_keys,
    sync_jobs,
    users,
    webhook_deliveries,
)
from app.domain.accounts import Account
from app.services.repositories import new_revision

#: The PostgreSQL advisory lock a pruning transaction holds, so that one process prunes at a time.
PRUNING_LOCK = int.from_bytes(b"accounts")


class SqlAdministration(SqlBase):
    def is_empty(self) -> bool:
        with self._reading() as connection:
            return connection.scalar(select(literal(True)).select_from(users).limit(1)) is None

    def seed(self, users_accounts: Mapping[str, Sequence[Account]]) -> int:
        insert_ = DIALECT_INSERTS[self._engine.dialect.name]
        user_rows, account_rows = new_rows(users_accounts)
        new_users = insert_(users).on_conflict_do_nothing(index_elements=["id"])
        new_accounts = insert_(accounts)
        new_accounts = new_accounts.on_conflict_do_update(
            index_elements=["user_id", "id"],
            set_={
                **{name: new_accounts.excluded[name] for name in CONTENT_COLUMNS},
                "version": accounts.c.version + 1,
                "last_updated": func.now(),
            },
            # Only where something differs, so that seeding twice changes nothing.
            where=or_(
                *(
                    accounts.c[name].is_distinct_from(new_accounts.excluded[name])
                    for name in CONTENT_COLUMNS
                )
            ),
        )
        changed = 0
        with self._transaction() as connection:
            # Counted through RETURNING: drivers report no row count for a many-row statement.
            if user_rows:
                changed += len(connection.execute(new_users.returning(users.c.id), user_rows).all())
            if account_rows:
                keys = accounts.c.user_id, accounts.c.id, accounts.c.pk
                written = connection.execute(new_accounts.returning(*keys), account_rows).all()
                changed += len(written)
                record_written(connection, users_accounts, {(r[0], r[1]): r[2] for r in written})
            if changed:
                # Which users' accounts changed is not known here; new revisions for all of them
                # cost a few cached responses, and seeding is rare.
                connection.execute(
                    update(users)
                    .where(users.c.id == bindparam("user_id"))
                    .values(revision=bindparam("new_revision")),
                    [{"user_id": row["id"], "new_revision": new_revision()} for row in user_rows],
                )
        return changed

    def export(self) -> dict[str, list[Account]]:
        with self._transaction() as connection:
            # One transaction, so users and accounts come from the same moment.
            exported: dict[str, list[Account]] = {
                user_id: []
                for user_id in connection.scalars(select(users.c.id).order_by(users.c.id))
            }
            query = select(accounts.c.user_id, *ACCOUNT_COLUMNS).order_by(accounts.c.pk)
            for row in connection.execute(query):
                exported[row.user_id].append(account_from(row))
        return exported

    def replace_all(self, users_accounts: Mapping[str, Sequence[Account]]) -> None:
        user_rows, account_rows = new_rows(users_accounts)
        with self._transaction() as connection:
            connection.execute(delete(accounts))
            connection.execute(delete(users))
            for table, rows in [(users, user_rows), (accounts, account_rows)]:
                if rows:
                    connection.execute(insert(table), rows)
            keys = select(accounts.c.user_id, accounts.c.id, accounts.c.pk)
            written = {(row[0], row[1]): row[2] for row in connection.execute(keys)}
            record_written(connection, users_accounts, written)

    def prune(self, now: datetime, jobs_finished_before: datetime, limit: int) -> int:
        newer = sync_jobs.alias("newer")
        old_jobs = (
            select(sync_jobs.c.pk)
            .where(
                sync_jobs.c.finished_at < jobs_finished_before,
                exists().where(
                    newer.c.user_id == sync_jobs.c.user_id,
                    newer.c.connection_id == sync_jobs.c.connection_id,
                    newer.c.created_at > sync_jobs.c.created_at,
                ),
            )
            .limit(limit)
        )
        keys = idempotency_keys.c
        expired_keys = select(keys.owner, keys.key).where(keys.expires_at <= now).limit(limit)
        deliveries = webhook_deliveries.c
        expired_deliveries = select(deliveries.id).where(deliveries.expires_at <= now).limit(limit)
        statements = [
            delete(sync_jobs).where(sync_jobs.c.pk.in_(old_jobs)),
            delete(idempotency_keys).where(tuple_(keys.owner, keys.key).in_(expired_keys)),
            delete(webhook_deliveries).where(deliveries.id.in_(expired_deliveries)),
        ]
        with self._transaction() as connection:
            if self.dialect == "postgresql":
                taken = connection.scalar(select(func.pg_try_advisory_xact_lock(PRUNING_LOCK)))
                if not taken:
                    return 0
            return sum(connection.execute(statement).rowcount for statement in statements)

    def make_history_months(self, since: date, through: date) -> list[str]:
        if self.dialect != "postgresql":
            return []
        with self._transaction() as connection:
            return make_months(connection, since, through)

    def written_position(self) -> int:
        """Where this PostgreSQL primary's WAL stands: what a write committed so far reaches."""
        with self._reading() as connection:
            return lsn_number(connection.scalar(text("SELECT pg_current_wal_lsn()::text")))

    def replayed_position(self) -> int:
        """How far this PostgreSQL standby has replayed its primary's WAL (a server that is no
        standby, or no longer one, has everything it holds: where its own WAL stands)."""
        with self._reading() as connection:
            found = connection.scalar(
                text(
                    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                    "ELSE pg_current_wal_lsn() END::text"
                )
            )
        return lsn_number(found)


def lsn_number(lsn: str | None) -> int:
    """A WAL position (PostgreSQL's `X/Y`, hexadecimal halves) as one number; 0 for none."""
    if not lsn:
        return 0
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)
