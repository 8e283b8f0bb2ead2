"""Balance history in the SQL store (app/services/history.py): written in the transaction of the
write that changes a balance, and gone with its account (the foreign key cascades)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    bindparam,
    delete,
    func,
    join,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.types import NullType

from app.adapters.storage.sql.base import DIALECT_INSERTS, SqlBase, replacing
from app.adapters.storage.sql.rows import ACCOUNT_COLUMNS, account_from, rewrite
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
        asked = {"user_id": user_id, "start": start, "end": end, "account_id": account_id}
        with self._reading() as connection:
            found = connection.execute(_ranges(self.dialect, account_id is not None), asked)
            if self.dialect == "postgresql":
                return {
                    account: list(zip(days, balances, strict=True))
                    for account, days, balances in found
                }
            rows = found.all()
        by_account: dict[str, list[Point]] = {}
        for account, day, balance in rows:
            by_account.setdefault(account, []).append((day, balance))
        return by_account

    def merge_account(
        self,
        user_id: str,
        into_id: str,
        taken_id: str,
        merged: Callable[[Account, Account], Account],
    ) -> Account:
        with self._transaction() as connection:
            self._touch(connection, user_id)
            found = {
                row.id: row
                for row in connection.execute(
                    select(accounts.c.pk, *ACCOUNT_COLUMNS).where(
                        accounts.c.user_id == user_id, accounts.c.id.in_([into_id, taken_id])
                    )
                )
            }
            for wanted in (into_id, taken_id):
                if wanted not in found:
                    raise AccountNotFound(user_id, wanted)
            into, taken = found[into_id], found[taken_id]
            account = merged(account_from(into), account_from(taken))
            inserting = DIALECT_INSERTS[connection.dialect.name](balance_history)
            connection.execute(
                inserting.from_select(
                    ["account_pk", "day", "balance"],
                    select(
                        literal(into.pk), balance_history.c.day, balance_history.c.balance
                    ).where(balance_history.c.account_pk == taken.pk),
                ).on_conflict_do_nothing(index_elements=_DAY)
            )
            connection.execute(delete(accounts).where(accounts.c.pk == taken.pk))
            where = [accounts.c.pk == into.pk]
            version = connection.scalar(rewrite(user_id, account, where))
        return replace(account, version=version)

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


@functools.cache
def _ranges(dialect: str, one_account: bool) -> Executable:
    """The user's accounts' (or one's) recorded balances from `start` to `end`, each account's
    beginning at its last on or before `start`: built once, with bound parameters."""
    start = bindparam("start", type_=balance_history.c.day.type)
    chosen = [accounts.c.user_id == bindparam("user_id")]
    if one_account:
        chosen.append(accounts.c.id == bindparam("account_id"))
    last_before = (
        select(func.max(balance_history.c.day))
        .where(balance_history.c.account_pk == accounts.c.pk, balance_history.c.day <= start)
        .scalar_subquery()
    )
    ranges = (
        select(accounts.c.pk, accounts.c.id, func.coalesce(last_before, start).label("day"))
        .where(*chosen)
        .subquery()
    )
    within = join(
        ranges,
        balance_history,
        (balance_history.c.account_pk == ranges.c.pk)
        & (balance_history.c.day >= ranges.c.day)
        & (balance_history.c.day <= bindparam("end", type_=balance_history.c.day.type)),
    )
    if dialect == "postgresql":
        # An account's range as two arrays: turning 730 rows an account into Python costs more
        # than PostgreSQL's reading them (bench/history.py).
        arrays = select(
            ranges.c.id, _by_day(balance_history.c.day), _by_day(balance_history.c.balance)
        )
        return arrays.select_from(within).group_by(ranges.c.id)
    return (
        select(ranges.c.id, balance_history.c.day, balance_history.c.balance)
        .select_from(within)
        .order_by(ranges.c.id, balance_history.c.day)
    )


def _by_day(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """PostgreSQL's array of `column` in the order of days, as psycopg reads it (dates and
    Decimals: no conversion of each element)."""
    return type_coerce(
        func.array_agg(aggregate_order_by(column, balance_history.c.day)), NullType()
    )
