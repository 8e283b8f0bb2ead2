"""No update is ever lost, against real gunicorn with its threaded worker and real HTTP clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import requests

from harness.gunicorn import DATABASE_WORKERS, serving
from tests.databases import emptied
from tests.samples import valid_account

THREADS = 8
UPDATES_PER_THREAD = 100

T = TypeVar("T")


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql"])
def base_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A live server: one process on the in-memory store, several on either database."""
    # This is about storage: tests/unit/test_auth.py is about tokens,
    # tests/integration/test_limits.py about limits.
    env = {"ACCOUNTS_AUTH": "off", "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": ""}
    if request.param != "memory":
        env["ACCOUNTS_DATABASE_URL"] = emptied(
            f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
            if request.param == "sqlite"
            else request.getfixturevalue("postgres_url")
        )
    with serving(env) as (url, server):
        server.wait_for_workers(1 if request.param == "memory" else DATABASE_WORKERS)
        yield url


def exact(response: requests.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def in_threads(work: Callable[[int, requests.Session], T]) -> list[T]:
    def run(thread: int) -> T:
        with requests.Session() as session:
            return work(thread, session)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_conditional_updates_are_never_lost(base_url: str) -> None:
    url = f"{base_url}/users/user123/accounts/acc2"
    start = exact(requests.get(url, timeout=5))["balance"]

    def increment(_: int, session: requests.Session) -> list[Decimal]:
        """Read, add one, write back only if nobody wrote in between; the balances it wrote."""
        written = []
        for _ in range(UPDATES_PER_THREAD):
            read = session.get(url, timeout=10)
            balance = exact(read)["balance"] + 1
            response = session.patch(
                url,
                json={"balance": int(balance)},
                headers={"If-Match": read.headers["ETag"]},
                timeout=10,
            )
            assert response.status_code in {200, 412}, response.text
            if response.status_code == 200:
                assert exact(response)["balance"] == balance
                written.append(balance)
        return written

    written = [balance for thread in in_threads(increment) for balance in thread]
    assert written, "no update got through at all"
    # Every 2xx update counted, and none overwrote another: each wrote a different balance.
    assert len(set(written)) == len(written)
    assert exact(requests.get(url, timeout=5))["balance"] == start + len(written)


def test_concurrent_creates_all_land(base_url: str) -> None:
    url = f"{base_url}/users/user000/accounts"

    def create(thread: int, session: requests.Session) -> list[str]:
        ids = []
        for n in range(25):
            response = session.post(
                url, json=valid_account("loan", id=f"t{thread}-{n}"), timeout=10
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids

    created = {account_id for ids in in_threads(create) for account_id in ids}
    listed = {account["id"] for account in requests.get(url, timeout=5).json()["accounts"]}
    assert listed == created
    assert len(created) == THREADS * 25


FIELDS: list[tuple[str, Callable[[int], Any]]] = [
    ("balance", lambda n: {"balance": n}),
    ("accountName", lambda n: {"accountName": f"name {n}"}),
    ("provider", lambda n: {"provider": f"provider {n}"}),
    ("currency", lambda n: {"currency": ["USD", "EUR", "GBP"][n % 3]}),
    ("details.creditLimit", lambda n: {"details": {"creditLimit": 10_000 + n}}),
    ("details.availableCredit", lambda n: {"details": {"availableCredit": n}}),
    ("details.apr", lambda n: {"details": {"apr": n % 100}}),
    ("details.dueDate", lambda n: {"details": {"dueDate": f"2026-01-{n % 28 + 1:02}"}}),
]


def test_unconditional_patches_of_different_fields_all_stick(base_url: str) -> None:
    # Each thread owns one field. A patch merged onto a stale copy of the account would put back
    # an older value of some other thread's field; the read-merge-compare-and-set loop prevents it.
    url = f"{base_url}/users/user456/accounts/acc4"

    def patch(thread: int, session: requests.Session) -> Any:
        _, change = FIELDS[thread]
        last = None
        for n in range(40):
            response = session.patch(url, json=change(n), timeout=10)
            assert response.status_code == 200, response.text
            last = change(n)
        return last

    expected: dict[str, Any] = {}
    for last in in_threads(patch):
        for key, value in last.items():
            if isinstance(value, dict):
                expected.setdefault(key, {}).update(value)
            else:
                expected[key] = value
    final = requests.get(url, timeout=5).json()
    assert {key: final[key] for key in expected if key != "details"} == {
        key: value for key, value in expected.items() if key != "details"
    }
    assert {key: final["details"][key] for key in expected["details"]} == expected["details"]
