"""A client generated from /openapi.json, as a new user would make one, does the whole flow."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from app.adapters.tokens import mint_token
from harness.gunicorn import serving
from tests.unit.test_auth import SECRET

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def generate(spec: bytes, folder: Path) -> str:
    (folder / "openapi.json").write_bytes(spec)
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            "openapi.json",
            "--meta",
            "none",
            "--output-path",
            "accounts_client",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        # Its post-hooks run ruff, which is beside it.
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def service(sandbox_url: str) -> Iterator[str]:
    env = {
        "ACCOUNTS_AUTH": "jwt",
        "ACCOUNTS_JWT_SECRET": SECRET,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox_url,
    }
    with serving(env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def client_package(service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("generated")
    output = generate(requests.get(f"{service}/openapi.json", timeout=5).content, folder)
    assert "Warning" not in output, output
    sys.path.insert(0, str(folder))
    yield "accounts_client"
    sys.path.remove(str(folder))


def module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


@pytest.fixture
def http(service: str, client_package: str) -> Iterator[Any]:
    authenticated: Any = module(client_package, "client").AuthenticatedClient
    with authenticated(
        base_url=service, token=mint_token("user123", SECRET), raise_on_unexpected_status=True
    ) as client:
        yield client


def test_each_operation_has_its_name_under_its_resource(client_package: str) -> None:
    for name in [
        "accounts.list_accounts",
        "accounts.summary",
        "connections.link",
        "users.get_user",
    ]:
        assert callable(module(client_package, f"api.{name}").sync_detailed)


def test_the_generated_client_creates_reads_patches_and_deletes(
    http: Any, client_package: str
) -> None:
    models = module(client_package, "models")
    create: Any = module(client_package, "api.accounts.create_account")
    read: Any = module(client_package, "api.accounts.get_account")
    listing: Any = module(client_package, "api.accounts.list_accounts")
    patch: Any = module(client_package, "api.accounts.patch_account")
    delete: Any = module(client_package, "api.accounts.delete_account")

    # No id: the service makes one, as the README says.
    new = models.SavingsAccountInput(
        type_="savings",
        provider="Ally",
        account_name="Rainy day",
        balance=2500.5,
        currency=models.Currency.USD,
        details=models.SavingsDetailsInput(apy=4.2, minimum_balance=0, routing_number="121000248"),
    )
    created = create.sync_detailed("user123", client=http, body=new, idempotency_key="rainy-day")
    assert created.status_code == 201
    account = created.parsed
    assert isinstance(account, models.SavingsAccount)
    assert account.id.startswith("acc-")
    assert created.headers["Location"] == f"/users/user123/accounts/{account.id}"
    again = create.sync_detailed("user123", client=http, body=new, idempotency_key="rainy-day")
    assert (again.parsed, again.headers["Idempotent-Replayed"]) == (account, "true")

    fetched = read.sync_detailed("user123", account.id, client=http)
    assert fetched.parsed == account
    etag = fetched.headers["ETag"]

    listed = listing.sync("user123", client=http, type_=[models.ListAccountsTypeItem("savings")])
    assert account in listed.accounts

    change = models.SavingsAccountPatch(
        account_name="Holiday", details=models.SavingsDetailsPatch(apy=4.5)
    )
    patched = patch.sync("user123", account.id, client=http, body=change, if_match=etag)
    assert (patched.account_name, patched.details.apy) == ("Holiday", 4.5)
    stale = patch.sync_detailed("user123", account.id, client=http, body=change, if_match=etag)
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)

    assert delete.sync_detailed("user123", account.id, client=http).status_code == 204
    missing = read.sync_detailed("user123", account.id, client=http)
    assert missing.status_code == 404
    assert missing.parsed.type_.endswith("/account-not-found")


def test_the_generated_client_links_a_bank_and_follows_its_first_sync(
    http: Any, client_package: str
) -> None:
    models = module(client_package, "models")
    link: Any = module(client_package, "api.connections.link")
    get_job: Any = module(client_package, "api.connections.get_job")
    get_connection: Any = module(client_package, "api.connections.get_connection")

    body = models.NewConnection(
        provider=models.NewConnectionProvider.SANDBOX,
        institution_id="ins_platypus",
        credentials=models.NewConnectionCredentials.from_dict(
            {"username": "user_good", "password": "pass_good"}
        ),
    )
    linked = link.sync_detailed("user123", client=http, body=body)
    assert linked.status_code == 201
    connection = linked.parsed
    assert isinstance(connection, models.LinkedConnection)
    assert linked.headers["Location"] == f"/users/user123/connections/{connection.id}"

    deadline = time.monotonic() + 30
    while (job := get_job.sync("user123", connection.sync_job_id, client=http)).status in (
        models.SyncJobStatus.QUEUED,
        models.SyncJobStatus.RUNNING,
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert (job.status, job.connection_id, job.accounts_added) == (
        models.SyncJobStatus.SUCCEEDED,
        connection.id,
        4,
    )
    healthy = get_connection.sync("user123", connection.id, client=http)
    assert (healthy.status, healthy.account_count) == (models.ConnectionStatus.HEALTHY, 4)
    assert (healthy.stale, healthy.consent_expires_at, healthy.new_accounts_available) == (
        False,
        None,
        False,
    )
    # What the bank's card and loan owe, read back typed.
    payments: Any = module(client_package, "api.payments.payments")
    due = payments.sync("user123", client=http, within=30)
    card = next(payment for payment in due.payments if payment.type_ == "credit")
    assert (card.account_name, card.amount_due, card.minimum_payment, card.overdue) == (
        "Plaid Credit Card",
        410.25,
        25,
        False,
    )
    listing: Any = module(client_package, "api.accounts.list_accounts")
    accounts = listing.sync("user123", client=http).accounts
    synced_card = next(
        a for a in accounts if a.connection_id == connection.id and a.type_ == "credit"
    )
    assert (synced_card.details.minimum_payment, synced_card.details.cash_advance_apr) == (
        25,
        27.95,
    )


def test_the_generated_client_reads_history_and_net_worth(http: Any, client_package: str) -> None:
    models = module(client_package, "models")
    record: Any = module(client_package, "api.balances.record_valuation")
    history: Any = module(client_package, "api.balances.balance_history")
    net_worth: Any = module(client_package, "api.net_worth.net_worth")

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    valuation = models.Valuation(date=yesterday, balance=3300)
    entered = record.sync_detailed(
        "user123", "acc3", client=http, body=valuation, idempotency_key="acc3-yesterday"
    )
    assert entered.status_code == 201
    series = history.sync("user123", "acc3", client=http, from_=yesterday)
    assert (series.points[0].date, series.points[0].balance) == (yesterday, 3300)
    worth = net_worth.sync("user123", client=http, from_=yesterday, currency=models.Currency.USD)
    assert (worth.currency, worth.interval) == ("USD", models.NetWorthSeriesInterval.DAY)
    assert [point.date for point in worth.points] == [yesterday, yesterday + timedelta(days=1)]
    assert worth.points[-1].missing_rates == []
