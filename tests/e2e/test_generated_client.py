"""A client generated from /openapi.json, as a new user would make one, does the whole flow."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
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
def service() -> Iterator[str]:
    env = {"ACCOUNTS_AUTH": "jwt", "ACCOUNTS_JWT_SECRET": SECRET}
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


def test_the_generated_client_creates_reads_patches_and_deletes(
    service: str, client_package: str
) -> None:
    models = module(client_package, "models")
    authenticated: Any = module(client_package, "client").AuthenticatedClient
    with authenticated(
        base_url=service, token=mint_token("user123", SECRET), raise_on_unexpected_status=True
    ) as http:
        run_the_flow(http, client_package, models)


def run_the_flow(http: Any, client_package: str, models: Any) -> None:
    api = f"{client_package}.api.default"
    create: Any = importlib.import_module(f"{api}.post_users_user_id_accounts")
    read: Any = importlib.import_module(f"{api}.get_users_user_id_accounts_account_id")
    listing: Any = importlib.import_module(f"{api}.get_users_user_id_accounts")
    patch: Any = importlib.import_module(f"{api}.patch_users_user_id_accounts_account_id")
    delete: Any = importlib.import_module(f"{api}.delete_users_user_id_accounts_account_id")

    # No id: the service makes one, as the README says.
    new = models.SavingsAccountInput(
        type_="savings",
        provider="Ally",
        account_name="Rainy day",
        balance=2500.5,
        currency="USD",
        details=models.SavingsDetails(apy=4.2, minimum_balance=0, routing_number="121000248"),
    )
    created = create.sync_detailed("user123", client=http, body=new)
    assert created.status_code == 201
    account = created.parsed
    assert isinstance(account, models.SavingsAccount)
    assert account.id.startswith("acc-")

    fetched = read.sync_detailed("user123", account.id, client=http)
    assert fetched.parsed == account
    etag = fetched.headers["ETag"]

    types = [models.GetUsersUserIdAccountsTypeItem("savings")]
    listed = listing.sync("user123", client=http, type_=types)
    assert account in listed.accounts

    change = models.AccountPatch.from_dict({"accountName": "Holiday", "details": {"apy": 4.5}})
    patched = patch.sync("user123", account.id, client=http, body=change, if_match=etag)
    assert (patched.account_name, patched.details.apy) == ("Holiday", 4.5)
    stale = patch.sync_detailed("user123", account.id, client=http, body=change, if_match=etag)
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)

    assert delete.sync_detailed("user123", account.id, client=http).status_code == 204
    missing = read.sync_detailed("user123", account.id, client=http)
    assert missing.status_code == 404
    assert missing.parsed.type_.endswith("/account-not-found")
