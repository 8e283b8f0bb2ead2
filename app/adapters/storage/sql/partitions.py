"""Balance history by month, on PostgreSQL: `balance_history` is partitioned by range of `day`
(declarative partitioning, migration 0015), one partition a month, named
`balance_history_yYYYYmMM`, and a default partition for any day no month was made for (a
valuation years back, say). Months are made ahead by the schedule and by `accounts-service db
partitions`; a month made late takes over its rows from the default partition.

A month's partition holds one account's range in its key's order (account, day), and a user's
range is their few accounts' (found by `accounts`' user index), each one such range.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import Connection, func, select, text

PARENT = "balance_history"
DEFAULT = "balance_history_default"
#: What the partitions' names look like (to leave them out of comparing schemas).
PARTITION = re.compile(r"balance_history_(?:y\d{4}m\d\d|default)")
#: Only one process makes months at a time (a PostgreSQL advisory lock's key).
_MAKING_LOCK = 0x6269_6C6C


def described(name: str | None, kind: str, _: object) -> bool:
    """Whether tables.py describes a database object (its partitions are not): Alembic's
    `include_name`, when comparing the database with tables.py."""
    return not (kind == "table" and PARTITION.fullmatch(name or ""))


def month_name(first: date) -> str:
    return f"{PARENT}_y{first.year:04d}m{first.month:02d}"


def months(since: date, through: date) -> list[date]:
    """The first day of every month from `since`'s through `through`'s."""
    found, first = [], since.replace(day=1)
    while first <= through:
        found.append(first)
        first = _next_month(first)
    return found


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def make_months(connection: Connection, since: date, through: date) -> list[str]:
    """Makes each missing month's partition from `since`'s month through `through`'s, moving into
    it what the default partition holds of that month; the names of those it made."""
    connection.execute(select(func.pg_advisory_xact_lock(_MAKING_LOCK)))
    made = []
    for first in months(since, through):
        name = month_name(first)
        if connection.scalar(select(func.to_regclass(name))) is not None:
            continue
        # Names and dates are of our own making (digits), and DDL takes no bound parameters.
        start, end = first.isoformat(), _next_month(first).isoformat()
        for statement in [
            f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)",
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE day >= '{start}' AND day < '{end}' "  # noqa: S608  # nosec B608
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{start}') TO ('{end}')",
        ]:
            connection.execute(text(statement))
        made.append(name)
    return made
