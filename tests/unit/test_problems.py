"""Errors of every kind come back as application/problem+json (RFC 9457): no HTML, no traceback."""

from __future__ import annotations

from collections.abc import Collection

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.adapters.exact_json import loads_exact
from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.accounts import Account, AccountType
from tests.conftest import SEED_FILE, serve_from

SECRET = "postgres://admin:hunter2@db"  # a fake, to prove it never leaks


class BrokenRepository(InMemoryAccountRepository):
    def user_revision(self, user_id: str) -> int:
        raise RuntimeError(f"cannot reach {SECRET}")

    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        raise RuntimeError(f"cannot reach {SECRET}")

    def get_account(self, user_id: str, account_id: str) -> Account:
        raise KeyError(SECRET)


def assert_problem(response: object, status: int, title: str) -> dict[str, object]:
    assert getattr(response, "status_code") == status  # noqa: B009
    assert getattr(response, "mimetype") == "application/problem+json"  # noqa: B009
    body = loads_exact(getattr(response, "data"))  # noqa: B009
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] == title
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return dict(body)


def test_unknown_route(client: FlaskClient) -> None:
    response = client.get("/no/such/route", headers={"Accept": "text/html"})
    assert_problem(response, 404, "Not Found")
    assert b"<" not in response.data


def test_trailing_slash_is_not_a_redirect_to_html(client: FlaskClient) -> None:
    assert_problem(client.get("/users/user123/accounts/"), 404, "Not Found")


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/users/user123/accounts", "PUT", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/users/user123/accounts", "DELETE", {"GET", "HEAD", "OPTIONS", "POST"}),
        (
            "/users/user123/accounts/acc1",
            "POST",
            {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"},
        ),
        ("/users", "PUT", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/users/user123", "PUT", {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
    ],
)
def test_method_not_allowed_keeps_its_allow_header(
    client: FlaskClient, path: str, method: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method)
    assert_problem(response, 405, "Method Not Allowed")
    assert set(response.headers["Allow"].split(", ")) == allowed


@pytest.fixture
def broken_client() -> FlaskClient:
    # Not in testing mode, so Flask handles the exception as it would in production.
    app = create_app({"SEED_DATA": str(SEED_FILE)})
    serve_from(app, BrokenRepository({}))
    return app.test_client()


@pytest.mark.parametrize("path", ["/users/user123/accounts", "/users/user123/accounts/acc1"])
def test_unexpected_exception_is_a_500_problem_that_leaks_nothing(
    broken_client: FlaskClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = broken_client.get(path)
    assert_problem(response, 500, "Internal Server Error")
    assert b"hunter2" not in response.data
    assert b"Traceback" not in response.data
    # ...but the operator sees it, once, with its traceback.
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert SECRET in str(logged[0].exc_info[1])  # type: ignore[index]
