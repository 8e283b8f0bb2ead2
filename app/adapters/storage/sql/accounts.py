"""Users and their accounts in the SQL store, syncs' writes included."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection as Connection_
from sqlalchemy import (
    Row,
    delete,
    exc,
    insert,
    select,
    update,
)

from app.adapters.storage.sql.base import NothingChanged, SqlBase
from app.adapters.storage.sql.history import record_changes
from app.adapters.storage.sql.rows import (
    ACCOUNT_COLUMNS,
    REVISION,
    account_from,
    account_row,
    list_query,
    rewrite,
)
from app.adapters.storage.tables import (
    accounts,
    users,
)
from app.domain.accounts import Account, AccountStatus, AccountType
from app.domain.errors import (
    AccountExists,
    AccountNotFound,
    ConnectionNotFound,
    TooManyAccounts,
    UserExists,
    UserNotFound,
    VersionConflict,
)
from app.services.repositories import (
    Listing,
    SyncOutcome,
    new_revision,
)


class SqlAccounts(SqlBase):
    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        return self._accounts(self._rows(user_id, types, with_revision=False))

    def revision_with_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> Listing:
        """The user's revision and list_accounts' answer, read by one statement: the list is
        exactly as of the revision."""
        rows = self._rows(user_id, types, with_revision=True)
        return Listing(int(rows[0].revision), self._accounts(rows))

    def _rows(
        self, user_id: str, types: Collection[AccountType] | None, with_revision: bool
    ) -> Sequence[Row[Any]]:
        with self._reading() as connection:
            rows = connection.execute(
                *list_query(user_id, types, with_revision=with_revision)
            ).all()
        if not rows:
            raise UserNotFound(user_id)
        return rows

    @staticmethod
    def _accounts(rows: Sequence[Row[Any]]) -> list[Account]:
        return [account_from(row) for row in rows if row.id is not None]

    def get_account(self, user_id: str, account_id: str) -> Account:
        query = select(*ACCOUNT_COLUMNS).where(
            accounts.c.user_id == user_id, accounts.c.id == account_id
        )
        with self._reading() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise self._missing(connection, user_id, account_id)
        return account_from(row)

    def user_revision(self, user_id: str) -> int:
        with self._reading() as connection:
            revision = connection.scalar(REVISION, {"user_id": user_id})
        if revision is None:
            raise UserNotFound(user_id)
        return int(revision)

    def list_users(self, after: str | None, limit: int) -> list[str]:
        query = select(users.c.id).order_by(users.c.id).limit(limit)
        if after is not None:
            query = query.where(users.c.id > after)
        with self._reading() as connection:
            return list(connection.scalars(query))

    def base_currency(self, user_id: str) -> str:
        query = select(users.c.base_currency).where(users.c.id == user_id)
        with self._reading() as connection:
            found = connection.scalar(query)
        if found is None:
            raise UserNotFound(user_id)
        return str(found)

    def set_base_currency(self, user_id: str, currency: str) -> None:
        with self._transaction() as connection:
            self._touch(connection, user_id)  # a new revision, or UserNotFound
            connection.execute(
                update(users).where(users.c.id == user_id).values(base_currency=currency)
            )

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
                record_changes(connection, user_id, [(None, stored)])
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
            row = connection.execute(select(*ACCOUNT_COLUMNS).where(*where)).first()
            if row is None:
                raise AccountNotFound(user_id, account_id)
            if expected_version is not None and row.version != expected_version:
                raise VersionConflict(user_id, account_id)
            before = account_from(row)
            changed = change(before)
            version = connection.scalar(rewrite(user_id, changed, where))
            record_changes(connection, user_id, [(before, changed)])
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
                    raise NothingChanged  # roll back the touch: the revision stays
                if limit is not None and outcome.added and self._count(connection, user_id) > limit:
                    raise TooManyAccounts(user_id, limit)  # rolls the whole sync back
        except NothingChanged:
            return SyncOutcome(0, 0, 0)
        return outcome

    @staticmethod
    def _sync(
        connection: Connection_, user_id: str, connection_id: str, wanted: Sequence[Account]
    ) -> SyncOutcome:
        query = select(*ACCOUNT_COLUMNS).where(
            accounts.c.user_id == user_id, accounts.c.connection_id == connection_id
        )
        linked = {row.external_id: account_from(row) for row in connection.execute(query)}
        added = updated = closed = 0
        changes = []
        recorded: list[tuple[Account | None, Account]] = []
        for account in wanted:
            known = linked.pop(account.external_id, None)
            if known is None:
                connection.execute(
                    insert(accounts).values(account_row(user_id, replace(account, version=1)))
                )
                recorded.append((None, account))
                added += 1
            elif known.resynced(account) != known:
                changes.append(known.resynced(account))
                recorded.append((known, changes[-1]))
                updated += 1
        record_changes(connection, user_id, recorded)
        for gone in linked.values():
            if gone.status is not AccountStatus.CLOSED:
                changes.append(replace(gone, status=AccountStatus.CLOSED))
                closed += 1
        for changed in changes:
            where = [accounts.c.user_id == user_id, accounts.c.id == changed.id]
            connection.execute(rewrite(user_id, changed, where))
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
