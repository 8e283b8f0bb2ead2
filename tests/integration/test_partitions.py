"""Balance history by month on PostgreSQL: the migration moves what there is into monthly
partitions, months are made ahead (and from the past on demand), and a day no month was made for
waits in the default partition until its month is made, read all along as any other."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, text

from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import upgrade
from app.adapters.storage.sql import SqlAccountRepository
from app.adapters.storage.sql.partitions import month_name, months
from app.domain.accounts import Account
from app.schemas.accounts import AccountSchema
from app.services.retention import make_history_room
from tests.databases import migrated
from tests.samples import valid_account

TODAY = datetime.now(UTC).date()
YEARS_AGO = TODAY - timedelta(days=800)


def savings(account_id: str) -> Account:
    loaded: Account = AccountSchema().load(valid_account("savings", id=account_id))
    return loaded


def where(engine: Engine, day: date) -> str:
    """The table that holds the rows of `day`."""
    with engine.connect() as connection:
        found = connection.scalar(
            text("SELECT DISTINCT tableoid::regclass::text FROM balance_history WHERE day = :day"),
            {"day": day},
        )
    return str(found)


def partitions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.scalars(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'balance_history'::regclass"
                )
            )
        )


def test_months_are_made_ahead_and_from_the_past_on_demand(fresh_postgres_url: str) -> None:
    engine = migrated(fresh_postgres_url)
    store = SqlAccountRepository(engine)
    this_month = month_name(TODAY.replace(day=1))
    assert this_month in partitions(engine)
    assert len(partitions(engine)) == 5  # this month, three ahead, and the default
    store.seed({"u1": [savings("s1")]})
    assert where(engine, TODAY) == this_month
    # A day no month was made for waits in the default partition, read as any other.
    store.set_balance("u1", "s1", YEARS_AGO, Decimal(5))
    assert where(engine, YEARS_AGO) == "balance_history_default"
    history = store.balance_history("u1", YEARS_AGO, TODAY, "s1")["s1"]
    assert history[0] == (YEARS_AGO, Decimal(5))
    # Its month made (the command's --since), the row moves into it; twice makes nothing more.
    made = make_history_room(store, TODAY, since=YEARS_AGO)
    assert set(made) == {month_name(first) for first in months(YEARS_AGO, TODAY)} - {this_month}
    assert where(engine, YEARS_AGO) == month_name(YEARS_AGO.replace(day=1))
    assert store.balance_history("u1", YEARS_AGO, TODAY, "s1")["s1"] == history
    assert make_history_room(store, TODAY, since=YEARS_AGO) == []
    # The schedule's pass, a year on, makes the months it then needs ahead.
    later = make_history_room(store, TODAY + timedelta(days=365))
    assert month_name((TODAY + timedelta(days=365)).replace(day=1)) in later
    # The account's history still goes with it, from every partition.
    store.delete_account("u1", "s1")
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM balance_history")) == 0
    engine.dispose()


def test_the_migration_moves_the_history_there_is_into_its_months(
    fresh_postgres_url: str,
) -> None:
    engine = make_engine(fresh_postgres_url)
    upgrade(engine, "0014")  # as it was: one table
    store = SqlAccountRepository(engine)
    store.seed({"u1": [savings("s1"), replace(savings("s2"), balance=Decimal(2))]})
    store.set_balance("u1", "s1", YEARS_AGO, Decimal(1))
    before = store.balance_history("u1", YEARS_AGO, TODAY)
    upgrade(engine)
    assert store.balance_history("u1", YEARS_AGO, TODAY) == before
    assert where(engine, YEARS_AGO) == month_name(YEARS_AGO.replace(day=1))
    assert where(engine, TODAY) == month_name(TODAY.replace(day=1))
    engine.dispose()
