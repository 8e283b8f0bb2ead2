"""The service behind PgBouncer in transaction mode (started by the tests, harness/engines.py):
with ACCOUNTS_DB_TRANSACTION_POOLING it works; without, start-up says what to set, in one line."""

from __future__ import annotations

import secrets

from click.testing import CliRunner

from app import create_app
from app.adapters.exact_json import loads_exact
from app.entrypoints.cli import main
from app.entrypoints.http.context import components_of
from tests.conftest import SEED_FILE
from tests.samples import valid_account


def test_without_the_setting_upgrade_says_what_to_set_in_one_line(pgbouncer_url: str) -> None:
    refused = CliRunner().invoke(
        main, ["db", "upgrade"], env={"ACCOUNTS_DATABASE_URL": pgbouncer_url}
    )
    assert refused.exit_code == 1
    assert "unsupported startup parameter" in refused.output
    assert "set ACCOUNTS_DB_TRANSACTION_POOLING=true" in refused.output
    assert refused.output.count("\n") == 1


def test_with_the_setting_writes_reads_and_retries_go_through(pgbouncer_url: str) -> None:
    env = {"ACCOUNTS_DATABASE_URL": pgbouncer_url, "ACCOUNTS_DB_TRANSACTION_POOLING": "true"}
    upgraded = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    app = create_app(
        {
            "SEED_DATA": str(SEED_FILE),
            "DATABASE_URL": pgbouncer_url,
            "DB_TRANSACTION_POOLING": True,
            "AUTH": "off",
        }
    )
    client = app.test_client()
    # The database is the session's (the contract suite runs through it too): a user of its own.
    user = f"pooled-{secrets.token_hex(4)}"
    assert client.post("/users", json={"id": user}).status_code == 201
    account = valid_account("savings")
    keyed = {"Idempotency-Key": "through-pgbouncer"}
    first = client.post(f"/users/{user}/accounts", json=account, headers=keyed)
    assert first.status_code == 201, first.data
    assert client.post(f"/users/{user}/accounts", json=account, headers=keyed).data == first.data
    path = f"/users/{user}/accounts/{account['id']}"
    for balance in range(1, 8):  # past psycopg's threshold for preparing a statement
        assert client.patch(path, json={"balance": balance}).status_code == 200
        assert loads_exact(client.get(path).data)["balance"] == balance
    components_of(app).close()
