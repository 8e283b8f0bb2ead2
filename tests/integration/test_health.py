"""Liveness and readiness probes, against real dependencies that go away and come back."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import make_url

from app import create_app
from app.entrypoints.http.context import components_of
from harness.tcp_proxy import TcpProxy
from tests.conftest import SEED_FILE
from tests.databases import emptied
from tests.unit.test_auth import SECRET


def app_with(**config: Any) -> Any:
    return create_app({"SEED_DATA": str(SEED_FILE), **config})


def test_probes_need_no_token() -> None:
    client = app_with(AUTH="jwt", JWT_SECRET=SECRET).test_client()
    assert client.get("/healthz").json == {"status": "alive"}
    assert client.get("/readyz").json == {"status": "ready", "checks": {"database": "ok"}}


def test_ready_with_redis_when_it_answers(redis_url: str) -> None:
    response = app_with(REDIS_URL=redis_url).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_redis_away_is_reported_but_keeps_the_service_ready() -> None:
    # Without Redis the cache and the rate limits work from memory: the service still answers.
    client = app_with(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 2
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"] != "ok"
    assert client.get("/users/user123/accounts").status_code == 200


def test_readiness_follows_postgresql_away_and_back(postgres_url: str) -> None:
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    app = None
    try:
        url = emptied(
            target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        app = app_with(DATABASE_URL=url, AUTH="off")
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        proxy.stop()
        started = time.monotonic()
        down = client.get("/readyz")
        assert time.monotonic() - started < 2
        assert down.status_code == 503
        assert down.json is not None
        assert down.json["detail"] == "Not answering: database."
        proxy.start()
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()
        if app is not None:
            components_of(app).close()
