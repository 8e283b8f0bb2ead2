"""The Alembic migrations build exactly the schema that app/repositories/tables.py describes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.repositories.engine import make_engine
from app.repositories.migrate import is_current, upgrade
from app.repositories.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


def test_upgrade_builds_the_described_schema_and_is_idempotent(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:  # a database shared within the session starts from nothing
        for table in reversed(metadata.sorted_tables):
            table.drop(connection, checkfirst=True)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    assert not is_current(engine)
    upgrade(engine)
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    indexes = {index["name"] for index in inspect(engine).get_indexes("accounts")}
    assert "accounts_user_id_type_idx" in indexes
    engine.dispose()
