"""Every write the service acknowledged is still there after the service is killed outright."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from app.adapters.storage.engine import make_engine
from app.adapters.storage.sql import SqlAccountRepository
from app.schemas.accounts import AccountSchema
from harness.gunicorn import serving
from tests.databases import emptied
from tests.samples import valid_account

WRITERS = 6
ACKNOWLEDGED_BEFORE_KILL = 300


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_writes_survive_sigkill(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = emptied(
        f"sqlite:///{tmp_path / 'durable.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    acknowledged: list[str] = []
    stop = threading.Event()

    def write(base_url: str, writer: int) -> None:
        with requests.Session() as session:
            for n in range(100_000):
                if stop.is_set():
                    return
                account_id = f"w{writer}-{n}"
                try:
                    response = session.post(
                        f"{base_url}/users/user000/accounts",
                        json=valid_account("loan", id=account_id),
                        timeout=10,
                    )
                except requests.RequestException:  # the server is gone
                    return
                if response.status_code == 201:
                    acknowledged.append(account_id)

    env = {
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
    }
    with serving(env) as (base_url, server):
        writers = [
            threading.Thread(target=write, args=(base_url, writer)) for writer in range(WRITERS)
        ]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # while the writers are still sending
        stop.set()
        for thread in writers:
            thread.join(timeout=30)

    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    engine = make_engine(url)
    try:
        stored = SqlAccountRepository(engine).list_accounts("user000")
    finally:
        engine.dispose()
    assert set(acknowledged) <= {account.id for account in stored}
    # Nothing is half-written either: every stored account is the whole account that was sent.
    schema = AccountSchema()
    assert all(account == schema.load(valid_account("loan", id=account.id)) for account in stored)
