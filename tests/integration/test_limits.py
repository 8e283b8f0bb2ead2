"""Rate limits per client address and per token: 429 problems, shared across workers via Redis."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.adapters.tokens import mint_token
from tests.conftest import SEED_FILE
from tests.unit.test_auth import SECRET


def limited_app(**config: Any) -> Flask:
    settings = {
        "SEED_DATA": str(SEED_FILE),
        "RATE_LIMIT_PER_ADDRESS": "",
        "RATE_LIMIT_PER_TOKEN": "",
    }
    return create_app({**settings, **config})


def get(client: FlaskClient, address: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(
        "/users/user123/accounts", headers=headers, environ_base={"REMOTE_ADDR": address}
    )


def a_fresh_address() -> str:
    # Counters may outlive a test (in Redis), so each test counts for an address of its own.
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


def assert_rate_limited(response: Any, detail: str) -> None:
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/rate-limited")
    assert response.json["detail"] == detail
    assert response.headers["Retry-After"] == "60"


def test_a_client_address_over_its_limit_gets_429_and_others_do_not() -> None:
    client = limited_app(RATE_LIMIT_PER_ADDRESS="3 per minute").test_client()
    busy, quiet = a_fresh_address(), a_fresh_address()
    assert [get(client, busy).status_code for _ in range(3)] == [200] * 3
    assert_rate_limited(
        get(client, busy), "Too many requests from this address: at most 3 per minute."
    )
    assert get(client, quiet).status_code == 200


def test_a_token_over_its_limit_gets_429_and_other_tokens_do_not() -> None:
    app = limited_app(AUTH="jwt", JWT_SECRET=SECRET, RATE_LIMIT_PER_TOKEN="2 per minute")
    client = app.test_client()
    first, second = mint_token("user123", SECRET), mint_token("user123", SECRET, expires_in=60)
    address = a_fresh_address()
    assert [get(client, address, first).status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(
        get(client, address, first), "Too many requests with this token: at most 2 per minute."
    )
    assert get(client, address, second).status_code == 200
    # Requests without a token are not counted against any token (they get a 401 here).
    assert [get(client, address).status_code for _ in range(3)] == [401] * 3


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for() -> None:
    client = limited_app(RATE_LIMIT_PER_ADDRESS="1 per minute", TRUSTED_PROXIES=1).test_client()
    proxy = a_fresh_address()

    def through_proxy(client_address: str) -> int:
        return int(
            client.get(
                "/users/user123/accounts",
                headers={"X-Forwarded-For": client_address},
                environ_base={"REMOTE_ADDR": proxy},
            ).status_code
        )

    one, two = a_fresh_address(), a_fresh_address()
    assert [through_proxy(one), through_proxy(two), through_proxy(one)] == [200, 200, 429]


@pytest.fixture(params=["redis_url", "redis_cluster_url"])
def shared_redis_url(request: pytest.FixtureRequest) -> str:
    """One Redis, and a Redis Cluster."""
    url: str = request.getfixturevalue(request.param)
    return url


def sharing_workers(redis_url: str, budget: str) -> tuple[list[FlaskClient], Callable[[], None]]:
    """Two apps standing for two gunicorn worker processes on one Redis, and what makes both
    exchange their counts with it (left to the test: their own threads wait an hour)."""
    apps = [
        limited_app(
            RATE_LIMIT_PER_ADDRESS=budget, REDIS_URL=redis_url, RATE_LIMIT_SHARE_SECONDS=3600
        )
        for _ in range(2)
    ]

    def exchange() -> None:
        # Twice round: the first adds every process's counts, the second reads them all back.
        for app in apps * 2:
            shared = app.extensions["accounts-service rate limits"].shared
            shared.share()

    return [app.test_client() for app in apps], exchange


def test_workers_share_one_count_in_redis(shared_redis_url: str) -> None:
    workers, exchange = sharing_workers(shared_redis_url, "3 per minute")
    address = a_fresh_address()
    assert [get(workers[0], address).status_code for _ in range(3)] == [200] * 3
    exchange()
    # The other process learns of them at the exchange after its own next request: until then
    # it admits what it gets in one interval (here, one request), then refuses, as both do.
    assert get(workers[1], address).status_code == 200
    exchange()
    assert [get(worker, address).status_code for worker in workers * 2] == [429] * 4


def test_between_exchanges_a_budget_is_passed_by_no_more_than_the_others_admit(
    redis_url: str,
) -> None:
    workers, exchange = sharing_workers(redis_url, "3 per minute")
    address = a_fresh_address()
    # No exchange yet: each counts only its own, so the budget is passed by the other's 3.
    statuses = [get(workers[n % 2], address).status_code for n in range(8)]
    assert statuses == [200] * 6 + [429] * 2
    exchange()
    assert [get(worker, address).status_code for worker in workers] == [429, 429]
    # A request no process admitted is never counted: another address is untouched.
    assert get(workers[0], a_fresh_address()).status_code == 200


def test_with_redis_unreachable_requests_are_served_and_counted_in_memory() -> None:
    client = limited_app(
        RATE_LIMIT_PER_ADDRESS="2 per minute", REDIS_URL="redis://127.0.0.1:1/0"
    ).test_client()
    address = a_fresh_address()
    assert [get(client, address).status_code for _ in range(3)] == [200, 200, 429]


def test_a_burst_from_one_address_never_limits_probes_or_scrapes() -> None:
    # An hour's budget, so that the burst is over it however slowly this machine sends it.
    client = limited_app(RATE_LIMIT_PER_ADDRESS="300 per hour").test_client()
    address = a_fresh_address()
    statuses = []
    for n in range(2000):
        statuses.append(get(client, address).status_code)
        if n % 50 == 0:
            for probe in ["/healthz", "/readyz", "/metrics"]:
                response = client.get(probe, environ_base={"REMOTE_ADDR": address})
                assert response.status_code == 200, (n, probe)
    assert statuses.count(429) > 1000  # the burst itself was limited


def test_processes_exchange_their_counts_by_themselves(redis_url: str) -> None:
    workers = [
        limited_app(
            RATE_LIMIT_PER_ADDRESS="3 per minute",
            REDIS_URL=redis_url,
            RATE_LIMIT_SHARE_SECONDS=0.05,
        ).test_client()
        for _ in range(2)
    ]
    address = a_fresh_address()
    assert [get(workers[0], address).status_code for _ in range(3)] == [200] * 3
    time.sleep(0.5)  # ten intervals: the first process's thread has added its three
    assert get(workers[1], address).status_code == 200  # the second learns at its next
    time.sleep(0.5)
    assert get(workers[1], address).status_code == 429
