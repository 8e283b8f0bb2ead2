"""The Alembic migrations build exactly the schema that app/adapters/storage/tables.py describes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import is_current, upgrade
from app.adapters.storage.sql import SqlAccountRepository
from app.adapters.storage.sql.partitions import described
from app.adapters.storage.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


def emptied(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as connection:  # a database shared within the session starts from nothing
        for table in reversed(metadata.sorted_tables):
            table.drop(connection, checkfirst=True)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    return engine


def test_upgrade_builds_the_described_schema_and_is_idempotent(url: str) -> None:
    engine = emptied(url)
    assert not is_current(engine)
    upgrade(engine)
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": described})
        differences = compare_metadata(context, metadata)
    assert differences == []
    indexes = {index["name"] for index in inspect(engine).get_indexes("accounts")}
    assert "accounts_user_id_type_idx" in indexes
    engine.dispose()


def test_the_account_model_migration_fills_the_new_fields_of_the_accounts_there_are(
    url: str,
) -> None:
    engine = emptied(url)
    upgrade(engine, "0007")
    older = [
        ("c1", "credit", '{"credit_limit": 1, "available_credit": 1, "apr": 1, "due_date": null}'),
        ("l1", "loan", '{"principal": 1, "interest_rate": 1, "remaining_term_months": 1}'),
        ("k1", "checking", '{"overdraft_protection": true, "routing_number": null}'),
        ("s1", "savings", '{"apy": 1, "minimum_balance": 1, "routing_number": null}'),
        ("i1", "investment", '{"subtype": "roth_ira", "holdings_value": 1, "cash_balance": 1}'),
        ("i2", "investment", '{"subtype": "401k", "holdings_value": 1, "cash_balance": 1}'),
        ("i3", "investment", '{"subtype": null, "holdings_value": 1, "cash_balance": 1}'),
    ]
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (id, revision) VALUES ('u1', 1)"))
        for account_id, kind, details in older:
            connection.execute(
                text(
                    "INSERT INTO accounts (user_id, id, type, provider, account_name, balance, "
                    "currency, version, details) VALUES ('u1', :id, :type, 'Bank', 'Name', 5, "
                    "'USD', 1, :details)"
                ),
                {"id": account_id, "type": kind, "details": details},
            )
    upgrade(engine)
    found = {account.id: account for account in SqlAccountRepository(engine).list_accounts("u1")}
    assert {key: account.subtype for key, account in found.items()} == {
        "c1": "credit_card",
        "l1": "other",
        "k1": "checking",
        "s1": "savings",
        "i1": "roth",
        "i2": "401k",
        "i3": "other",
    }
    assert all(account.include_in_net_worth and not account.hidden for account in found.values())
    assert all(account.mask is None for account in found.values())
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT details FROM accounts WHERE id = 'i1'")).scalar()
    # JSONB comes back decoded; SQLite's JSON column as its text.
    kept = stored if isinstance(stored, dict) else json.loads(str(stored))
    assert "subtype" not in kept
    engine.dispose()
