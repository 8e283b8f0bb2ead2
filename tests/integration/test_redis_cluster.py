"""Everything that uses Redis on a real Redis Cluster (`redis+cluster://`): the response cache, the
revision board, readiness (the rate limits: tests/integration/test_limits.py); and a master that
dies and comes back."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.adapters.exact_json import loads_exact
from app.adapters.pause import PAUSE_SECONDS
from app.entrypoints.http.context import components_of
from harness.engines import RedisCluster
from harness.engines import redis_cluster as start_redis_cluster
from tests.conftest import SEED_FILE
from tests.databases import emptied
from tests.samples import valid_account

USERS = [f"cluster-user-{n}" for n in range(24)]


def cluster_app(database_url: str, redis_url: str, **config: Any) -> Flask:
    return create_app(
        {
            "SEED_DATA": str(SEED_FILE),
            "DATABASE_URL": database_url,
            "AUTH": "off",
            "REDIS_URL": redis_url,
            "CACHE_BACKEND": "redis",
            "REVISIONS": "redis",
            "REVISIONS_NAMESPACE": secrets.token_hex(8),
            "RATE_LIMIT_PER_ADDRESS": "",
            "RATE_LIMIT_PER_TOKEN": "",
            **config,
        }
    )


@pytest.fixture
def app_on_cluster(postgres_url: str, redis_cluster_url: str) -> Iterator[Flask]:
    app = cluster_app(emptied(postgres_url), redis_cluster_url)
    yield app
    components_of(app).close()


def balance(client: FlaskClient, user_id: str) -> Any:
    listed = client.get(f"/users/{user_id}/accounts")
    assert listed.status_code == 200, listed.data
    return loads_exact(listed.data)["accounts"][0]["balance"]


def test_cached_lists_stay_exact_on_a_cluster_and_a_users_keys_share_a_slot(
    app_on_cluster: Flask, redis_cluster_url: str
) -> None:
    client = app_on_cluster.test_client()
    for user_id in USERS[:6]:
        assert client.post("/users", json={"id": user_id}).status_code == 201
        account = valid_account("savings")
        assert client.post(f"/users/{user_id}/accounts", json=account).status_code == 201
        for value in (1, 2, 3):
            path = f"/users/{user_id}/accounts/{account['id']}"
            assert client.patch(path, json={"balance": value}).status_code == 200
            assert balance(client, user_id) == value
            assert balance(client, user_id) == value  # a hit, after the miss
    node = redis.Redis(port=int(redis_cluster_url.rsplit(":", 1)[1]))
    user_slot = node.cluster("keyslot", "{cluster-user-0}")
    for key in (
        "accounts-service:list:{cluster-user-0}:1:",
        "accounts-service:revision:x:{cluster-user-0}",
    ):
        assert node.cluster("keyslot", key) == user_slot
    node.close()


def test_readiness_reports_the_cluster_without_depending_on_it(app_on_cluster: Flask) -> None:
    ready = app_on_cluster.test_client().get("/readyz")
    assert ready.status_code == 200
    assert loads_exact(ready.data)["checks"]["redis"] == "ok"


@pytest.fixture
def own_cluster() -> Iterator[RedisCluster]:
    """A cluster of this test's own, whose masters it may kill."""
    with start_redis_cluster() as cluster:
        yield cluster


def test_a_dead_master_costs_writes_a_503_reads_stay_exact_and_it_comes_back(
    postgres_url: str, own_cluster: RedisCluster
) -> None:
    app = cluster_app(emptied(postgres_url), own_cluster.url)
    client = app.test_client()
    accounts = {}
    for user_id in USERS:
        assert client.post("/users", json={"id": user_id}).status_code == 201
        account = valid_account("savings")
        assert client.post(f"/users/{user_id}/accounts", json=account).status_code == 201
        accounts[user_id] = f"/users/{user_id}/accounts/{account['id']}"
    expected = {user_id: balance(client, user_id) for user_id in USERS}

    own_cluster.kill_node(own_cluster.ports[1])
    deadline = time.monotonic() + 6
    statuses: set[int] = set()
    value = 100
    while time.monotonic() < deadline:
        for user_id, path in accounts.items():
            value += 1
            written = client.patch(path, json={"balance": value})
            statuses.add(written.status_code)
            if written.status_code == 200:
                expected[user_id] = value
            else:
                assert written.status_code == 503, written.data
                assert written.headers["Retry-After"]
            assert balance(client, user_id) == expected[user_id]  # never stale
    assert statuses == {200, 503}  # the other masters' users were written all along
    assert client.get("/readyz").status_code == 200

    own_cluster.start_node(own_cluster.ports[1])
    deadline = time.monotonic() + 30
    while own_cluster.state() != "ok":
        assert time.monotonic() < deadline, "the cluster did not come back"
        time.sleep(0.2)
    time.sleep(PAUSE_SECONDS)
    for user_id, path in accounts.items():  # back by itself, for every user
        assert client.patch(path, json={"balance": 7}).status_code == 200
        assert balance(client, user_id) == 7
    components_of(app).close()
