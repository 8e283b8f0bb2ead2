"""Users and accounts in SQLite or PostgreSQL, through SQLAlchemy Core.

Every write is one statement, or one transaction, whose outcome the database itself decides:
constraints refuse duplicates, and `UPDATE … WHERE version = :expected` is the compare-and-set.
So several gunicorn worker processes, or several machines, can share one database safely.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, get_args, get_type_hints

from sqlalchemy import (
    ColumnElement,
    Engine,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    exc,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import Connection as Connection_
from sqlalchemy.dialects import postgresql, sqlite

from app.domain import (
    DETAILS_CLASSES,
    UNFINISHED,
    Account,
    AccountExists,
    AccountNotFound,
    AccountStatus,
    AccountType,
    Connection,
    ConnectionNotFound,
    ConnectionStatus,
    JobStatus,
    StorageUnavailable,
    SyncFailure,
    SyncJob,
    SyncJobNotFound,
    TooManyAccounts,
    UserExists,
    UserNotFound,
    VersionConflict,
)
from app.repositories import unit as unit_of_work
from app.repositories.base import (
    KeyClaim,
    KeyState,
    RecordedAnswer,
    Store,
    SyncOutcome,
    new_revision,
)
from app.repositories.tables import (
    UNFINISHED_SQL,
    accounts,
    connections,
    idempotency_keys,
    sync_jobs,
    users,
    webhook_deliveries,
)

# INSERT … ON CONFLICT is spelled the same in both, but SQLAlchemy builds it per dialect.
_DIALECT_INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
# What an account holds, as against where it is (user_id, id) and its history (version, pk).
_CONTENT_COLUMNS = [
    "type",
    "provider",
    "account_name",
    "balance",
    "currency",
    "details",
    "status",
    "balance_as_of",
    "connection_id",
    "external_id",
    "subtype",
    "mask",
    "official_name",
    "nickname",
    "available_balance",
    "hidden",
    "include_in_net_worth",
]

_ACCOUNT_COLUMNS = [
    accounts.c.id,
    accounts.c.type,
    accounts.c.provider,
    accounts.c.account_name,
    accounts.c.balance,
    accounts.c.currency,
    accounts.c.details,
    accounts.c.status,
    accounts.c.balance_as_of,
    accounts.c.connection_id,
    accounts.c.external_id,
    accounts.c.subtype,
    accounts.c.mask,
    accounts.c.official_name,
    accounts.c.nickname,
    accounts.c.available_balance,
    accounts.c.hidden,
    accounts.c.include_in_net_worth,
    accounts.c.version,
]

# The details column holds each details dataclass's own fields, by name. Reading one back turns
# each JSON value into the field's type: no validation, since every account was validated on its
# way in, and reading is what the busiest route does for every account it lists.
_FROM_JSON: dict[Any, Callable[[Any], Any]] = {
    Decimal: lambda value: value if isinstance(value, Decimal) else Decimal(value),
    date: date.fromisoformat,
    int: int,
    bool: bool,
    str: str,
}
_DETAILS_READERS = {
    account_type: (
        details_class,
        [
            # Each detail is `<type> | None`: read by its type, None as it is.
            (name, _FROM_JSON[get_args(kind)[0]])
            for name, kind in get_type_hints(details_class).items()
            if name != "account_type"
        ],
    )
    for account_type, details_class in DETAILS_CLASSES.items()
}


# Built once: the busiest route reads a revision for every request.
_REVISION = select(users.c.revision).where(users.c.id == bindparam("user_id"))


def _failure_columns(error: SyncFailure | None) -> dict[str, str | None]:
    """A sync failure as the error_code and error_message columns (connections, sync jobs)."""
    return {
        "error_code": error.code if error else None,
        "error_message": error.message if error else None,
    }


def _failure(row: Row[Any]) -> SyncFailure | None:
    return SyncFailure(row.error_code, row.error_message or "") if row.error_code else None


def _connection_row(user_id: str, connection: Connection) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": connection.id,
        "provider": connection.provider,
        "institution_id": connection.institution_id,
        "institution_name": connection.institution_name,
        "sealed_token": connection.sealed_token,
        "status": str(connection.status),
        "last_successful_sync": connection.last_successful_sync,
        "last_failed_sync": connection.last_failed_sync,
        **_failure_columns(connection.error),
        "version": connection.version,
        "item_id": connection.item_id,
        "next_sync_at": connection.next_sync_at,
    }


def _connection(row: Row[Any]) -> Connection:
    return Connection(
        id=row.id,
        provider=row.provider,
        institution_id=row.institution_id,
        institution_name=row.institution_name,
        sealed_token=row.sealed_token,
        status=ConnectionStatus(row.status),
        last_successful_sync=row.last_successful_sync,
        last_failed_sync=row.last_failed_sync,
        error=_failure(row),
        item_id=row.item_id,
        next_sync_at=row.next_sync_at,
        version=row.version,
    )


def _job_row(user_id: str, job: SyncJob) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": job.id,
        "connection_id": job.connection_id,
        "status": str(job.status),
        "accounts_added": job.accounts_added,
        "accounts_updated": job.accounts_updated,
        "accounts_closed": job.accounts_closed,
        **_failure_columns(job.error),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "version": job.version,
        "attempts": job.attempts,
        "lease_until": job.lease_until,
    }


def _job(row: Row[Any]) -> SyncJob:
    return SyncJob(
        id=row.id,
        connection_id=row.connection_id,
        created_at=row.created_at,
        status=JobStatus(row.status),
        accounts_added=row.accounts_added,
        accounts_updated=row.accounts_updated,
        accounts_closed=row.accounts_closed,
        error=_failure(row),
        finished_at=row.finished_at,
        attempts=row.attempts,
        lease_until=row.lease_until,
        version=row.version,
    )


_Kept = TypeVar("_Kept", Connection, SyncJob)


class _NothingChanged(Exception):
    """Ends a sync's transaction without a trace when it would write nothing."""


@contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    """A database that cannot be reached, or answers too slowly, becomes a 503, not a 500."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
        raise StorageUnavailable() from error


def account_row(user_id: str, account: Account) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": account.id,
        "type": str(account.type),
        "provider": account.provider,
        "account_name": account.account_name,
        "balance": account.balance,
        "currency": account.currency,
        "details": {
            field.name: getattr(account.details, field.name) for field in fields(account.details)
        },
        "status": str(account.status),
        "balance_as_of": account.balance_as_of,
        "connection_id": account.connection_id,
        "external_id": account.external_id,
        "subtype": account.subtype,
        "mask": account.mask,
        "official_name": account.official_name,
        "nickname": account.nickname,
        "available_balance": account.available_balance,
        "hidden": account.hidden,
        "include_in_net_worth": account.include_in_net_worth,
        "version": account.version,
    }


def _new_rows(
    users_accounts: Mapping[str, Sequence[Account]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for these users (each with a fresh revision) and their accounts (at version 1)."""
    user_rows = [{"id": user_id, "revision": new_revision()} for user_id in users_accounts]
    account_rows = [
        account_row(user_id, replace(account, version=1))
        for user_id, user_accounts in users_accounts.items()
        for account in user_accounts
    ]
    return user_rows, account_rows


def _rewrite(user_id: str, account: Account, where: list[ColumnElement[bool]]) -> Update:
    """Overwrite the matching row with `account`, with the next version; returns that version."""
    values = account_row(user_id, account)
    del values["version"]
    return (
        update(accounts)
        .where(*where)
        .values(**values, version=accounts.c.version + 1, last_updated=func.now())
        .returning(accounts.c.version)
    )


def list_query(user_id: str, types: Collection[AccountType] | None = None) -> Select[Any]:
    """A user's accounts in list order, and one row with no account when the user has none:
    one round trip answers both "does the user exist" and "which accounts"."""
    joined = and_(accounts.c.user_id == users.c.id)
    if types is not None:
        joined = and_(joined, accounts.c.type.in_([str(kind) for kind in types]))
    return (
        select(*_ACCOUNT_COLUMNS)
        .select_from(users.outerjoin(accounts, joined))
        .where(users.c.id == user_id)
        .order_by(accounts.c.pk)
    )


def _account(row: Row[Any]) -> Account:
    details_class, readers = _DETAILS_READERS[AccountType(row.type)]
    return Account(
        id=row.id,
        provider=row.provider,
        account_name=row.account_name,
        balance=row.balance,
        currency=row.currency,
        details=details_class(
            **{
                name: None if row.details[name] is None else read(row.details[name])
                for name, read in readers
            }
        ),
        status=AccountStatus(row.status),
        balance_as_of=row.balance_as_of,
        connection_id=row.connection_id,
        external_id=row.external_id,
        subtype=row.subtype,
        mask=row.mask,
        official_name=row.official_name,
        nickname=row.nickname,
        available_balance=row.available_balance,
        hidden=row.hidden,
        include_in_net_worth=row.include_in_net_worth,
        version=row.version,
    )


class SqlAccountRepository(Store):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> None:
        with self._reading() as connection:
            connection.scalar(select(literal(True)))

    @contextmanager
    def _own_transaction(self) -> Iterator[Connection_]:
        with _unavailable_on_failure(), self._engine.begin() as connection:
            yield connection

    @contextmanager
    def _transaction(self) -> Iterator[Connection_]:
        """A connection in a transaction that commits on success: the open unit of work's
        (app/repositories/unit.py), which commits when the unit does, or one of its own."""
        unit = unit_of_work.current()
        if unit is None:
            with self._own_transaction() as connection:
                yield connection
        else:
            with _unavailable_on_failure():
                yield unit.join(self, self._own_transaction)

    @contextmanager
    def _reading(self) -> Iterator[Connection_]:
        """A connection for reads that each need one statement: no BEGIN and COMMIT round trips;
        inside a unit of work that has written, its transaction, which sees what it wrote."""
        unit = unit_of_work.current()
        joined = None if unit is None else unit.joined(self)
        if joined is not None:
            with _unavailable_on_failure():
                yield joined
            return
        with _unavailable_on_failure(), self._autocommit.connect() as connection:
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

    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        with self._reading() as connection:
            rows = connection.execute(list_query(user_id, types)).all()
        if not rows:
            raise UserNotFound(user_id)
        return [_account(row) for row in rows if row.id is not None]

    def get_account(self, user_id: str, account_id: str) -> Account:
        query = select(*_ACCOUNT_COLUMNS).where(
            accounts.c.user_id == user_id, accounts.c.id == account_id
        )
        with self._reading() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise self._missing(connection, user_id, account_id)
        return _account(row)

    def user_revision(self, user_id: str) -> int:
        with self._reading() as connection:
            revision = connection.scalar(_REVISION, {"user_id": user_id})
        if revision is None:
            raise UserNotFound(user_id)
        return int(revision)

    def add_user(self, user_id: str) -> None:
        try:
            with self._transaction() as connection:
                connection.execute(insert(users).values(id=user_id, revision=new_revision()))
        except exc.IntegrityError:
            raise UserExists(user_id) from None

    def delete_user(self, user_id: str) -> None:
        with self._transaction() as connection:
            # The user's row lock first: a sync writing to this user finishes before, or finds
            # the user gone after (apply_sync); its connections and jobs go by the foreign keys.
            self._touch(connection, user_id)
            connection.execute(delete(accounts).where(accounts.c.user_id == user_id))
            connection.execute(delete(users).where(users.c.id == user_id))

    def add_account(self, user_id: str, account: Account, limit: int | None = None) -> Account:
        stored = replace(account, version=1)
        try:
            with self._transaction() as connection:
                self._touch(connection, user_id)  # the user's row lock: adds take turns
                if limit is not None and self._count(connection, user_id) >= limit:
                    raise TooManyAccounts(user_id, limit)
                connection.execute(insert(accounts).values(account_row(user_id, stored)))
        except exc.IntegrityError:
            raise AccountExists(user_id, account.id) from None
        return stored

    def modify_account(
        self,
        user_id: str,
        account_id: str,
        change: Callable[[Account], Account],
        expected_version: int | None = None,
    ) -> Account:
        where = [accounts.c.user_id == user_id, accounts.c.id == account_id]
        with self._transaction() as connection:
            # The touch makes concurrent modifiers wait their turn, so this read is what the one
            # before wrote, and the change applies to it.
            self._touch(connection, user_id)
            row = connection.execute(select(*_ACCOUNT_COLUMNS).where(*where)).first()
            if row is None:
                raise AccountNotFound(user_id, account_id)
            if expected_version is not None and row.version != expected_version:
                raise VersionConflict(user_id, account_id)
            changed = change(_account(row))
            version = connection.scalar(_rewrite(user_id, changed, where))
        return replace(changed, version=version)

    def apply_sync(
        self,
        user_id: str,
        connection_id: str,
        wanted: Sequence[Account],
        limit: int | None = None,
    ) -> SyncOutcome:
        try:
            with self._transaction() as connection:
                # The touch takes the user's row lock, so two syncs of one user take turns, and
                # a delete of the connection (or the user) comes wholly before or after this.
                self._touch(connection, user_id)
                if not self._connection_exists(connection, user_id, connection_id):
                    raise ConnectionNotFound(user_id, connection_id)
                outcome = self._sync(connection, user_id, connection_id, wanted)
                if outcome == SyncOutcome(0, 0, 0):
                    raise _NothingChanged  # roll back the touch: the revision stays
                if limit is not None and outcome.added and self._count(connection, user_id) > limit:
                    raise TooManyAccounts(user_id, limit)  # rolls the whole sync back
        except _NothingChanged:
            return SyncOutcome(0, 0, 0)
        return outcome

    @staticmethod
    def _sync(
        connection: Connection_, user_id: str, connection_id: str, wanted: Sequence[Account]
    ) -> SyncOutcome:
        query = select(*_ACCOUNT_COLUMNS).where(
            accounts.c.user_id == user_id, accounts.c.connection_id == connection_id
        )
        linked = {row.external_id: _account(row) for row in connection.execute(query)}
        added = updated = closed = 0
        changes = []
        for account in wanted:
            known = linked.pop(account.external_id, None)
            if known is None:
                connection.execute(
                    insert(accounts).values(account_row(user_id, replace(account, version=1)))
                )
                added += 1
            elif known.resynced(account) != known:
                changes.append(known.resynced(account))
                updated += 1
        for gone in linked.values():
            if gone.status is not AccountStatus.CLOSED:
                changes.append(replace(gone, status=AccountStatus.CLOSED))
                closed += 1
        for changed in changes:
            where = [accounts.c.user_id == user_id, accounts.c.id == changed.id]
            connection.execute(_rewrite(user_id, changed, where))
        return SyncOutcome(added, updated, closed)

    def delete_account(
        self, user_id: str, account_id: str, expected_version: int | None = None
    ) -> None:
        condition = [accounts.c.user_id == user_id, accounts.c.id == account_id]
        if expected_version is not None:
            condition.append(accounts.c.version == expected_version)
        with self._transaction() as connection:
            self._touch(connection, user_id)
            if connection.execute(delete(accounts).where(*condition)).rowcount == 0:
                raise self._missing(connection, user_id, account_id)

    def add_connection(self, user_id: str, connection: Connection) -> Connection:
        stored = replace(connection, version=1)
        with self._transaction() as connection_:
            if not self._user_exists(connection_, user_id):
                raise UserNotFound(user_id)
            connection_.execute(insert(connections).values(_connection_row(user_id, stored)))
        return stored

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
        return _connection(row)

    def list_connections(self, user_id: str) -> list[Connection]:
        query = (
            select(connections).where(connections.c.user_id == user_id).order_by(connections.c.pk)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
            if not rows and not self._user_exists(connection, user_id):
                raise UserNotFound(user_id)
        return [_connection(row) for row in rows]

    def find_connection(self, provider: str, item_id: str) -> tuple[str, Connection] | None:
        query = select(connections).where(
            connections.c.provider == provider, connections.c.item_id == item_id
        )
        with self._reading() as connection:
            row = connection.execute(query).first()
        return None if row is None else (row.user_id, _connection(row))

    def due_connections(self, now: datetime, limit: int) -> list[tuple[str, Connection]]:
        query = (
            select(connections)
            .where(connections.c.next_sync_at <= now)
            .order_by(connections.c.next_sync_at)
            .limit(limit)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        return [(row.user_id, _connection(row)) for row in rows]

    def modify_connection(
        self, user_id: str, connection_id: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        return self._modify(
            connections,
            user_id,
            connection_id,
            _connection,
            _connection_row,
            change,
            ConnectionNotFound(user_id, connection_id),
        )

    def _modify(
        self,
        table: Table,
        user_id: str,
        key: str,
        read: Callable[[Row[Any]], _Kept],
        row_of: Callable[[str, _Kept], dict[str, Any]],
        change: Callable[[_Kept], _Kept],
        not_found: Exception,
    ) -> _Kept:
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
        insert_ = _DIALECT_INSERTS[self._engine.dialect.name]
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
                .values(_job_row(user_id, stored))
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
        return _job(row), False

    def get_job(self, user_id: str, job_id: str) -> SyncJob:
        query = select(sync_jobs).where(sync_jobs.c.user_id == user_id, sync_jobs.c.id == job_id)
        with self._reading() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise self._missing_one(connection, user_id, SyncJobNotFound(user_id, job_id))
        return _job(row)

    def modify_job(
        self, user_id: str, job_id: str, change: Callable[[SyncJob], SyncJob]
    ) -> SyncJob:
        return self._modify(
            sync_jobs, user_id, job_id, _job, _job_row, change, SyncJobNotFound(user_id, job_id)
        )

    def _missing_one(
        self, connection: Connection_, user_id: str, not_found: Exception
    ) -> Exception:
        """Why a statement about one of the user's rows matched none."""
        return not_found if self._user_exists(connection, user_id) else UserNotFound(user_id)

    def first_delivery(self, key: str, now: datetime, keep_until: datetime) -> bool:
        with self._transaction() as connection:
            connection.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.expires_at <= now)
            )
        # The primary key decides between racing callers: one insert wins, the rest fail.
        try:
            with self._transaction() as connection:
                connection.execute(insert(webhook_deliveries).values(id=key, expires_at=keep_until))
        except exc.IntegrityError:
            return False
        return True

    def claim_key(
        self,
        owner: str,
        key: str,
        fingerprint: str,
        holder: str,
        now: datetime,
        lease_until: datetime,
        expires_at: datetime,
    ) -> KeyClaim:
        this_key = [idempotency_keys.c.owner == owner, idempotency_keys.c.key == key]
        insert_ = _DIALECT_INSERTS[self._engine.dialect.name]
        with self._transaction() as connection:
            connection.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.owner == owner, idempotency_keys.c.expires_at <= now
                )
            )
            # The primary key decides between racing callers: one insert wins.
            claimed = connection.execute(
                insert_(idempotency_keys)
                .values(
                    owner=owner,
                    key=key,
                    fingerprint=fingerprint,
                    holder=holder,
                    status=KeyState.IN_PROGRESS.value,
                    lease_until=lease_until,
                    expires_at=expires_at,
                )
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            ).first()
            if claimed is not None:
                return KeyClaim(KeyState.NEW)
            # A request that died held it: its lease is over, so the next one takes it.
            taken_over = connection.execute(
                update(idempotency_keys)
                .where(
                    *this_key,
                    idempotency_keys.c.fingerprint == fingerprint,
                    idempotency_keys.c.status == KeyState.IN_PROGRESS.value,
                    idempotency_keys.c.lease_until <= now,
                )
                .values(lease_until=lease_until, holder=holder)
            ).rowcount
            if taken_over:
                return KeyClaim(KeyState.NEW)
            row = connection.execute(select(idempotency_keys).where(*this_key)).one()
        if row.fingerprint != fingerprint:
            return KeyClaim(KeyState.MISMATCH)
        if row.status == KeyState.IN_PROGRESS.value:
            return KeyClaim(KeyState.IN_PROGRESS)
        headers = tuple((str(name), str(value)) for name, value in row.answer_headers or [])
        return KeyClaim(
            KeyState.DONE, RecordedAnswer(row.answer_status, bytes(row.answer_body), headers)
        )

    def complete_key(self, owner: str, key: str, holder: str, answer: RecordedAnswer) -> bool:
        with self._transaction() as connection:
            completed = connection.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.owner == owner,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.holder == holder,
                    idempotency_keys.c.status == KeyState.IN_PROGRESS.value,
                )
                .values(
                    status=KeyState.DONE.value,
                    answer_status=answer.status,
                    answer_body=answer.body,
                    answer_headers=[list(header) for header in answer.headers],
                    lease_until=None,
                )
            ).rowcount
        return bool(completed)

    def release_key(self, owner: str, key: str, holder: str) -> None:
        with self._transaction() as connection:
            connection.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.owner == owner,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.holder == holder,
                )
            )

    def is_empty(self) -> bool:
        with self._reading() as connection:
            return connection.scalar(select(literal(True)).select_from(users).limit(1)) is None

    def seed(self, users_accounts: Mapping[str, Sequence[Account]]) -> int:
        insert_ = _DIALECT_INSERTS[self._engine.dialect.name]
        user_rows, account_rows = _new_rows(users_accounts)
        new_users = insert_(users).on_conflict_do_nothing(index_elements=["id"])
        new_accounts = insert_(accounts)
        new_accounts = new_accounts.on_conflict_do_update(
            index_elements=["user_id", "id"],
            set_={
                **{name: new_accounts.excluded[name] for name in _CONTENT_COLUMNS},
                "version": accounts.c.version + 1,
                "last_updated": func.now(),
            },
            # Only where something differs, so that seeding twice changes nothing.
            where=or_(
                *(
                    accounts.c[name].is_distinct_from(new_accounts.excluded[name])
                    for name in _CONTENT_COLUMNS
                )
            ),
        )
        changed = 0
        with self._transaction() as connection:
            # Counted through RETURNING: drivers report no row count for a many-row statement.
            for statement, rows, key in [
                (new_users, user_rows, users.c.id),
                (new_accounts, account_rows, accounts.c.pk),
            ]:
                if rows:
                    changed += len(connection.execute(statement.returning(key), rows).all())
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
            query = select(accounts.c.user_id, *_ACCOUNT_COLUMNS).order_by(accounts.c.pk)
            for row in connection.execute(query):
                exported[row.user_id].append(_account(row))
        return exported

    def replace_all(self, users_accounts: Mapping[str, Sequence[Account]]) -> None:
        user_rows, account_rows = _new_rows(users_accounts)
        with self._transaction() as connection:
            connection.execute(delete(accounts))
            connection.execute(delete(users))
            for table, rows in [(users, user_rows), (accounts, account_rows)]:
                if rows:
                    connection.execute(insert(table), rows)
