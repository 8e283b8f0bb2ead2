"""Headers every response carries, what is never revealed, CORS, and requests past the limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient

from app import create_app
from app.entrypoints.http.security import MAX_QUERY_BYTES, SECURITY_HEADERS
from harness.gunicorn import serving
from tests.conftest import SEED_FILE
from tests.samples import valid_account

RESPONSES = [
    ("GET", "/users/user123/accounts", None),
    ("GET", "/users/user123/accounts/acc1", None),
    ("GET", "/users/nobody/accounts", None),
    ("GET", "/no/such/route", None),
    ("DELETE", "/users/user123/accounts", None),
    ("POST", "/users/user123/accounts", valid_account("loan", id="new")),
    ("POST", "/users/user123/accounts", {"type": "loan"}),
    ("GET", "/openapi.json", None),
]


@pytest.mark.parametrize(("method", "path", "json"), RESPONSES)
def test_every_response_carries_the_security_headers(
    client: FlaskClient, method: str, path: str, json: object
) -> None:
    response = client.open(path, method=method, json=json)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_a_304_carries_them_too(client: FlaskClient) -> None:
    etag = client.get("/users/user123/accounts").headers["ETag"]
    response = client.get("/users/user123/accounts", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    with serving() as (url, _):
        yield url


def test_no_version_or_framework_is_revealed(live_url: str) -> None:
    for path in ["/users/user123/accounts", "/users/nobody/accounts", "/nope"]:
        response = requests.get(f"{live_url}{path}", timeout=5)
        assert response.headers["Server"] == "gunicorn"  # gunicorn's, without its version
        everything = str(response.headers) + response.text
        for revealing in ["Werkzeug", "Python", "Flask", "gunicorn/"]:
            assert revealing not in everything


def test_a_very_long_query_string_is_a_json_400(client: FlaskClient, live_url: str) -> None:
    long_query = "type=credit&" * (MAX_QUERY_BYTES // 12 + 1)
    response = client.get(f"/users/user123/accounts?{long_query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert "longer than 2048 bytes" in response.json["detail"]
    # Through gunicorn too: the limit is below gunicorn's, whose own answer would be HTML.
    live = requests.get(f"{live_url}/users/user123/accounts?{long_query}", timeout=5)
    assert live.status_code == 400
    assert live.headers["Content-Type"] == "application/problem+json"


def test_no_cors_unless_configured(client: FlaskClient) -> None:
    response = client.get("/users/user123/accounts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_only_for_the_configured_origins() -> None:
    app = create_app({"SEED_DATA": str(SEED_FILE), "CORS_ORIGINS": ["https://app.example"]})
    client = app.test_client()
    preflight = client.options(
        "/users/user123/accounts/acc1",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "If-Match, Content-Type",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "if-match" in preflight.headers["Access-Control-Allow-Headers"].lower()
    allowed = client.get("/users/user123/accounts", headers={"Origin": "https://app.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/users/user123/accounts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
