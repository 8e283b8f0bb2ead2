"""Headers every response carries, CORS, and queries past the limit, through Flask's test client;
expected values written out as the docs give them, never taken from the code under test."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app import create_app
from tests.conftest import SEED_FILE
from tests.samples import valid_account

#: As docs/api.md lists them.
DOCUMENTED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Cache-Control": "private, no-cache",
}
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
    for name, value in DOCUMENTED_HEADERS.items():
        assert response.headers.getlist(name) == [value], name


def test_a_304_carries_them_too(client: FlaskClient) -> None:
    etag = client.get("/users/user123/accounts").headers["ETag"]
    response = client.get("/users/user123/accounts", headers={"If-None-Match": etag})
    assert response.status_code == 304
    for name, value in DOCUMENTED_HEADERS.items():
        assert response.headers.getlist(name) == [value], name


def test_a_header_the_answer_sets_itself_is_kept(client: FlaskClient) -> None:
    # The docs at /docs are a page: their own policy, not the API's default-src 'none'.
    page = client.get("/docs")
    assert page.headers.getlist("Content-Security-Policy") != [
        DOCUMENTED_HEADERS["Content-Security-Policy"]
    ]
    assert len(page.headers.getlist("Content-Security-Policy")) == 1


def test_a_query_string_of_2048_bytes_is_read_and_one_more_is_a_400(client: FlaskClient) -> None:
    exactly = "type=credit" + "&type=loan" * 2 + "&type=credit" * 167 + "&type=savings"
    assert len(exactly) == 2048
    assert client.get(f"/users/user123/accounts?{exactly}").status_code == 200
    # A route answered by Flask alone: 2048 bytes reach its own check of the parameters ...
    read = client.get(f"/users/user123/accounts/acc1?{exactly}")
    assert read.status_code == 400
    assert read.get_json()["detail"].startswith("Unknown query parameter(s): type;")
    # ... and one more is refused for its length, before anything reads it, on every route.
    for path in ["/users/user123/accounts", "/users/user123/accounts/acc1"]:
        refused = client.get(f"{path}?{exactly}&")
        assert (refused.status_code, refused.mimetype) == (400, "application/problem+json")
        assert refused.get_json()["detail"] == "The query string is longer than 2048 bytes."
        assert refused.get_json()["type"] == "tag:accounts-service,2026:problems/invalid-query"


def test_no_cors_unless_configured(client: FlaskClient) -> None:
    response = client.get("/users/user123/accounts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_only_for_the_configured_origins_with_the_headers_the_api_needs() -> None:
    app = create_app({"SEED_DATA": str(SEED_FILE), "CORS_ORIGINS": ["https://app.example"]})
    client = app.test_client()
    preflight = client.options(
        "/users/user123/accounts/acc1",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": (
                "Authorization, Content-Type, If-Match, If-None-Match"
            ),
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    allowed_headers = {
        name.strip().lower()
        for name in preflight.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed_headers == {"authorization", "content-type", "if-match", "if-none-match"}
    # A header the API does not take is not allowed.
    odd = client.options(
        "/users/user123/accounts/acc1",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Debug",
        },
    )
    assert "x-debug" not in odd.headers.get("Access-Control-Allow-Headers", "").lower()
    allowed = client.get("/users/user123/accounts", headers={"Origin": "https://app.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    exposed = {name.strip() for name in allowed.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"ETag", "Location", "Retry-After"}
    other = client.get("/users/user123/accounts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
