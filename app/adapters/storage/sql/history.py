"""Balance history in the SQL store (app/services/history.py): written in the transaction of the
write that changes a balance, and gone with its account (the foreign key cascades)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Connection, Executable, bindparam, delete, func, select

from app.adapters.storage.sql.base import DIALECT_INSERTS, SqlBase, replacing
from app.adapters.storage.tables import accounts, balance_history
from app.domain.accounts import Account
from app.domain.errors import AccountNotFound
from app.domain.history import Point
from app.services.history import balance_record
from app.services.repositories import BalanceHistory

#: One balance per account and day: the latest written replaces the one before.
_DAY = ["account_pk", "day"]


def record_changes(
    connection: Connection, user_id: str, changes: Sequence[tuple[Account | None, Account]]
) -> None:
    """Records what writing each `after` over its `before` (None: a new account) leaves in the
    accounts' histories: one statement for them all (a sync changes many)."""
    today = datetime.now(UTC).date()
    rows = [
        {"user_id": user_id, "account_id": after.id, "day": found[0], "balance": found[1]}
        for before, after in changes
        if (found := balance_record(before, after, today)) is not None
    ]
    if rows:
        connection.execute(_recording(connection.dialect.name), rows)


def record(
    connection: Connection, user_id: str, account_id: str, day: date, balance: Decimal
) -> None:
    """The account's balance on `day`, replacing that day's."""
    row = {"user_id": user_id, "account_id": account_id, "day": day, "balance": balance}
    connection.execute(_recording(connection.dialect.name), [row])


@functools.cache
def _recording(dialect: str) -> Executable:
    """An account's balance on a day, replacing that day's: the account found by its ids."""
    statement = DIALECT_INSERTS[dialect](balance_history).from_select(
        ["account_pk", "day", "balance"],
        select(
            accounts.c.pk,
            bindparam("day", type_=balance_history.c.day.type),
            bindparam("balance", type_=balance_history.c.balance.type),
        ).where(
            accounts.c.user_id == bindparam("user_id"), accounts.c.id == bindparam("account_id")
        ),
    )
    return replacing(statement, _DAY, ["balance"])


def record_written(
    connection: Connection,
    users_accounts: Mapping[str, Sequence[Account]],
    written: Mapping[tuple[str, str], int],
) -> None:
    """Records the balances of the accounts a seed or a replacement wrote: `written` maps
    (user id, account id) to the row's key, for those it wrote."""
    today = datetime.now(UTC).date()
    rows = []
    for user_id, user_accounts in users_accounts.items():
        for account in user_accounts:
            found = balance_record(None, account, today)
            if (user_id, account.id) in written and found is not None:
                day, balance = found
                rows.append(
                    {"account_pk": written[user_id, account.id], "day": day, "balance": balance}
                )
    if rows:
        statement = DIALECT_INSERTS[connection.dialect.name](balance_history)
        connection.execute(replacing(statement, _DAY, ["balance"]), rows)


class SqlHistory(SqlBase, BalanceHistory):
    def balance_history(
        self, user_id: str, start: date, end: date, account_id: str | None = None
    ) -> dict[str, list[Point]]:
        chosen = [accounts.c.user_id == user_id]
        if account_id is not None:
            chosen.append(accounts.c.id == account_id)
        last_before = (
            select(func.max(balance_history.c.day))
            .where(balance_history.c.account_pk == accounts.c.pk, balance_history.c.day <= start)
            .scalar_subquery()
        )
        # Each account's range begins at its last balance on or before `start`: one index range.
        begins = select(
            accounts.c.pk, accounts.c.id, func.coalesce(last_before, start).label("day")
        ).where(*chosen)
        ranges = begins.subquery()
        query = (
            select(ranges.c.id, balance_history.c.day, balance_history.c.balance)
            .join_from(
                ranges,
                balance_history,
                (balance_history.c.account_pk == ranges.c.pk)
                & (balance_history.c.day >= ranges.c.day)
                & (balance_history.c.day <= end),
            )
            .order_by(ranges.c.id, balance_history.c.day)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        found: dict[str, list[Point]] = {}
        for account_id, day, balance in rows:
            found.setdefault(account_id, []).append((day, balance))
        return found

    def set_balance(self, user_id: str, account_id: str, day: date, balance: Decimal) -> None:
        with self._transaction() as connection:
            self._account_pk(connection, user_id, account_id)
            record(connection, user_id, account_id, day, balance)

    def delete_balance(self, user_id: str, account_id: str, day: date) -> bool:
        with self._transaction() as connection:
            pk = self._account_pk(connection, user_id, account_id)
            gone = connection.execute(
                delete(balance_history).where(
                    balance_history.c.account_pk == pk, balance_history.c.day == day
                )
            )
            return gone.rowcount > 0

    def _account_pk(self, connection: Connection, user_id: str, account_id: str) -> int:
        pk = connection.scalar(
            select(accounts.c.pk).where(accounts.c.user_id == user_id, accounts.c.id == account_id)
        )
        if pk is None:
            raise self._missing_one(connection, user_id, AccountNotFound(user_id, account_id))
        return int(pk)
