"""The whole app on SQLite and on PostgreSQL: start-up, persistence, replicas, and outages."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from app import create_app
from app.adapters.exact_json import loads_exact
from app.adapters.storage import engine as engines
from app.adapters.storage.deadlines import deadlines
from app.adapters.storage.engine import PING_AFTER_IDLE_SECONDS, make_engine
from app.adapters.storage.migrate import upgrade
from app.config import ConfigurationError
from app.entrypoints.http.context import components_of
from harness.tcp_proxy import TcpProxy
from tests.conftest import SEED_FILE
from tests.databases import emptied, migrated
from tests.samples import valid_account
from tests.unit.test_api_accounts import USER123_RESPONSE


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return emptied(url)


@pytest.fixture
def app_on() -> Iterator[Callable[..., Flask]]:
    """Makes apps on a database URL, and closes their connections after the test."""
    apps: list[Flask] = []

    def make(url: str, **config: object) -> Flask:
        # Storage is the subject here; tests/unit/test_auth.py covers tokens on a database.
        app = create_app(
            {"SEED_DATA": str(SEED_FILE), "DATABASE_URL": url, "AUTH": "off", **config}
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        components_of(app).close()


def test_an_empty_database_is_seeded_and_serves_the_example(
    database_url: str, app_on: Callable[..., Flask]
) -> None:
    response = app_on(database_url).test_client().get("/users/user123/accounts")
    assert response.status_code == 200
    assert response.data == USER123_RESPONSE


def test_writes_persist_and_a_database_with_data_is_not_seeded_again(
    database_url: str, app_on: Callable[..., Flask]
) -> None:
    client = app_on(database_url).test_client()
    assert client.delete("/users/user456").status_code == 204
    created = client.post("/users/user123/accounts", json=valid_account("savings", id="keep"))
    assert created.status_code == 201
    patched = client.patch(
        "/users/user123/accounts/acc1",
        json={"balance": 0.1},
        headers={"If-Match": client.get("/users/user123/accounts/acc1").headers["ETag"]},
    )
    assert patched.status_code == 200

    restarted = app_on(database_url).test_client()
    assert restarted.get("/users/user456").status_code == 404
    ids = [a["id"] for a in loads_exact(restarted.get("/users/user123/accounts").data)["accounts"]]
    assert ids == ["acc1", "acc2", "acc3", "keep"]
    assert restarted.get("/users/user123/accounts/acc1").data == patched.data


def test_an_outdated_schema_stops_start_up(tmp_path: Path, app_on: Callable[..., Flask]) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with pytest.raises(
        ConfigurationError, match=r"not up to date; run `accounts-service db upgrade`"
    ):
        app_on(url)
    upgrade(make_engine(url))
    app_on(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/accounts", "only sqlite and postgresql are supported"),
        ("not a url", "database URL 'not a url'"),
        ("postgresql://postgres@127.0.0.1:1/test", "cannot reach it"),
    ],
)
def test_a_bad_database_url_stops_start_up_with_one_line(
    url: str, message: str, app_on: Callable[..., Flask]
) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match=message) as caught:
        app_on(url)
    assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("revisions", ["database", "redis"])
def test_read_replicas_need_postgresql_and_the_revision_board(
    tmp_path: Path, revisions: str, app_on: Callable[..., Flask]
) -> None:
    """Which replica may serve a user is on the board: without it, or on SQLite, no replica
    could tell whether it has the user's last write (tests/e2e/test_replicas.py runs them)."""
    primary, replica = (f"sqlite:///{tmp_path / name}" for name in ("primary.db", "replica.db"))
    for url in (primary, replica):
        migrated(url)
    with pytest.raises(ConfigurationError, match="READ_REPLICA_URL needs PostgreSQL and REVISIONS"):
        app_on(
            primary,
            READ_REPLICA_URL=replica,
            REVISIONS=revisions,
            REDIS_URL="redis://127.0.0.1:1",
        )


def test_a_replica_away_at_start_is_left_out_and_reported_never_unready(
    postgres_url: str, redis_url: str, app_on: Callable[..., Flask]
) -> None:
    client = app_on(
        emptied(postgres_url),
        READ_REPLICA_URL="postgresql://postgres@127.0.0.1:1/test",
        REVISIONS="redis",
        REDIS_URL=redis_url,
        REVISIONS_NAMESPACE=secrets.token_hex(8),
    ).test_client()
    assert client.get("/users/user123/accounts").data == USER123_RESPONSE  # from the primary
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = loads_exact(ready.data)["checks"]
    assert checks["database"] == "ok"
    assert checks["read replica 127.0.0.1:1"] != "ok"


def test_while_postgresql_is_away_requests_get_503_and_then_recover(
    postgres_url: str, app_on: Callable[..., Flask]
) -> None:
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    try:
        url = emptied(
            target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        client = app_on(url).test_client()
        assert client.get("/users/user123/accounts").status_code == 200

        proxy.stop()
        for method, path in [("GET", "/users/user123/accounts"), ("POST", "/users")]:
            started = time.monotonic()
            response = client.open(path, method=method)
            assert time.monotonic() - started < 5, "a lost database must fail fast"
            assert response.status_code == 503
            assert response.mimetype == "application/problem+json"
            assert response.headers["Retry-After"] == "1"
            assert loads_exact(response.data)["type"].endswith("/storage-unavailable")
            assert b"127.0.0.1" not in response.data

        proxy.start()  # the database is back; the same app recovers without a restart
        assert client.get("/users/user123/accounts").data == USER123_RESPONSE
        assert client.post("/users", json={"id": "after-outage"}).status_code == 201
    finally:
        proxy.stop()


def test_a_database_that_stops_answering_gives_503_within_the_bound(
    postgres_url: str, app_on: Callable[..., Flask]
) -> None:
    """A frozen path (connections stay open, nothing comes back) is bounded like a lost one."""
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    # The statement timeout set below and the second after it that the cut allows, for the
    # liveness ping of the pooled connection; then connecting anew, which libpq bounds to no
    # less than 2 s.
    bound = (1.0 + 1.0) + 2.0
    try:
        url = emptied(
            target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        app = app_on(url, DB_STATEMENT_TIMEOUT_MS=1000, DB_POOL_TIMEOUT=1, DB_CONNECT_TIMEOUT=1)
        client = app.test_client()
        assert client.get("/users/user123/accounts").status_code == 200

        proxy.freeze()
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)  # so the pool's liveness ping meets it first
        for method, path, body in [
            ("GET", "/users/user123/accounts", None),
            ("PATCH", "/users/user123/accounts/acc1", {"balance": 1}),
            ("POST", "/users", {"id": "during-the-freeze"}),
        ]:
            started = time.monotonic()
            response = client.open(path, method=method, json=body)
            took = time.monotonic() - started
            assert response.status_code == 503, (method, response.data)
            # Beyond the bound: the watcher looks every 0.1 s, and CI machines are busy.
            assert took < bound + 1.0, (method, took)
            assert response.headers["Retry-After"] == "1"
        assert client.get("/healthz").status_code == 200

        proxy.thaw()  # the same app recovers without a restart
        assert client.get("/users/user123/accounts").status_code in (200, 503)
        assert client.get("/users/user123/accounts").data == USER123_RESPONSE
    finally:
        proxy.thaw()
        proxy.stop()


def test_no_deadline_outlives_the_work_it_bounds(
    postgres_url: str, app_on: Callable[..., Flask]
) -> None:
    """A deadline left armed would later cut a connection resting in the pool."""
    url = emptied(postgres_url)
    before = deadlines.pending()
    client = app_on(url).test_client()
    account = valid_account("loan", id="l1")
    assert client.post("/users/user123/accounts", json=account).status_code == 201
    assert client.post("/users/user123/accounts", json=account).status_code == 409  # fails
    assert client.patch("/users/user123/accounts/l1", json={"type": "credit"}).status_code == 422
    assert client.get("/users/user123/accounts").status_code == 200
    assert client.delete("/users/nobody").status_code == 404
    assert client.get("/readyz").status_code == 200
    assert deadlines.pending() <= before


def _cut_connections_to(url: str) -> int:
    """Ends every other session on the database, as a restart of PostgreSQL does."""
    with psycopg.connect(url, autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        )


def test_a_pooled_connection_the_database_dropped_while_idle_is_replaced_unseen(
    postgres_url: str, app_on: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_on(emptied(postgres_url)).test_client()
    assert client.get("/users/user123/accounts").status_code == 200
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 0)  # every pooled one is idle now

    assert _cut_connections_to(postgres_url) >= 1
    assert client.get("/users/user123/accounts").data == USER123_RESPONSE
    assert _cut_connections_to(postgres_url) >= 1
    assert client.post("/users", json={"id": "after-restart"}).status_code == 201


def test_a_connection_dropped_between_busy_requests_costs_one_503_then_the_pool_renews(
    postgres_url: str, app_on: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connections in steady use are not tested before each request (that round trip would cost
    # a fifth of a cached read); the first request to meet a dead one learns of the restart.
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 3600)
    client = app_on(emptied(postgres_url)).test_client()
    assert client.get("/users/user123/accounts").status_code == 200

    assert _cut_connections_to(postgres_url) >= 1
    failed = client.get("/users/user123/accounts")
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "1"
    assert client.get("/users/user123/accounts").data == USER123_RESPONSE
