"""Creating, changing and deleting users and accounts over HTTP, through Flask's test client."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.adapters.exact_json import dumps_bytes, loads_exact
from app.adapters.queue.running import utcnow
from app.domain.accounts import ID_RE
from app.entrypoints.http.context import components_of
from app.services.rates import Rate
from tests.conftest import SEED_FILE
from tests.samples import VALID_ACCOUNTS, valid_account

TAG = "tag:accounts-service,2026:problems/"


def body_of(response: TestResponse) -> Any:
    return loads_exact(response.data)


def problem(response: TestResponse, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = body_of(response)
    assert body["type"] == TAG + slug
    assert body["status"] == status
    return body


def fields_in(body: dict[str, Any]) -> dict[str, str]:
    return {error["field"]: error["detail"] for error in body["errors"]}


def account_ids(client: FlaskClient, user_id: str) -> list[str]:
    return [
        account["id"] for account in body_of(client.get(f"/users/{user_id}/accounts"))["accounts"]
    ]


# Users


def test_create_a_user_with_an_id(client: FlaskClient) -> None:
    response = client.post("/users", json={"id": "new-user"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/users/new-user"
    assert body_of(response) == {"userId": "new-user", "accountCount": 0, "baseCurrency": "USD"}
    assert body_of(client.get("/users/new-user")) == {
        "userId": "new-user",
        "accountCount": 0,
        "baseCurrency": "USD",
    }
    assert body_of(client.get("/users/new-user/accounts")) == {"userId": "new-user", "accounts": []}


@pytest.mark.parametrize("send", [{}, {"json": {}}])
def test_create_a_user_with_a_generated_id(client: FlaskClient, send: dict[str, Any]) -> None:
    response = client.post("/users", **send)
    assert response.status_code == 201
    user_id = body_of(response)["userId"]
    assert re.fullmatch(r"user-[0-9a-f]{16}", user_id)
    assert response.headers["Location"] == f"/users/{user_id}"
    assert client.get(f"/users/{user_id}").status_code == 200


def test_generated_user_ids_differ(client: FlaskClient) -> None:
    ids = {body_of(client.post("/users"))["userId"] for _ in range(20)}
    assert len(ids) == 20


def test_an_existing_user_is_a_409(client: FlaskClient) -> None:
    body = problem(client.post("/users", json={"id": "user123"}), 409, "user-exists")
    assert body["detail"] == "A user with id 'user123' already exists."
    assert body_of(client.get("/users/user123"))["accountCount"] == 3


@pytest.mark.parametrize(
    ("json", "field"),
    [({"id": "bad id"}, "id"), ({"id": 7}, "id"), ({"id": "u", "name": "x"}, "name")],
)
def test_an_invalid_user_is_a_422(client: FlaskClient, json: Any, field: str) -> None:
    assert field in fields_in(problem(client.post("/users", json=json), 422, "invalid-body"))


def test_get_a_user(client: FlaskClient) -> None:
    assert body_of(client.get("/users/user123")) == {
        "userId": "user123",
        "accountCount": 3,
        "baseCurrency": "USD",
    }
    problem(client.get("/users/nobody"), 404, "user-not-found")


def test_delete_a_user_removes_their_accounts(client: FlaskClient) -> None:
    response = client.delete("/users/user123")
    assert response.status_code == 204
    assert response.data == b""
    problem(client.get("/users/user123"), 404, "user-not-found")
    problem(client.get("/users/user123/accounts"), 404, "user-not-found")
    problem(client.get("/users/user123/accounts/acc1"), 404, "user-not-found")
    problem(client.delete("/users/user123"), 404, "user-not-found")
    # Re-created, the user starts with nothing.
    client.post("/users", json={"id": "user123"})
    assert account_ids(client, "user123") == []


# Accounts: create


def test_create_an_account(client: FlaskClient) -> None:
    new = valid_account("savings", id="acc-new")
    response = client.post("/users/user123/accounts", json=new)
    assert response.status_code == 201
    assert response.headers["Location"] == "/users/user123/accounts/acc-new"
    assert body_of(response) == loads_exact(dumps_bytes(new))
    fetched = client.get("/users/user123/accounts/acc-new")
    assert fetched.data == response.data
    assert fetched.headers["ETag"] == response.headers["ETag"]
    assert account_ids(client, "user123") == ["acc1", "acc2", "acc3", "acc-new"]


def test_create_an_account_with_a_generated_id(client: FlaskClient) -> None:
    new = valid_account("credit")
    del new["id"]
    response = client.post("/users/user000/accounts", json=new)
    assert response.status_code == 201
    account_id = body_of(response)["id"]
    assert re.fullmatch(r"acc-[0-9a-f]{16}", account_id)
    assert ID_RE.fullmatch(account_id)
    assert response.headers["Location"] == f"/users/user000/accounts/{account_id}"


def test_an_existing_account_id_is_a_409(client: FlaskClient) -> None:
    response = client.post("/users/user123/accounts", json=valid_account("loan", id="acc1"))
    body = problem(response, 409, "account-exists")
    assert body["detail"] == "User 'user123' already has an account with id 'acc1'."
    assert body_of(client.get("/users/user123/accounts/acc1"))["type"] == "credit"


def test_the_same_account_id_may_exist_for_another_user(client: FlaskClient) -> None:
    response = client.post("/users/user456/accounts", json=valid_account("loan", id="acc1"))
    assert response.status_code == 201


def test_creating_an_account_for_an_unknown_user_is_a_404(client: FlaskClient) -> None:
    problem(
        client.post("/users/nobody/accounts", json=valid_account("loan")), 404, "user-not-found"
    )


def test_every_bad_field_is_named_by_its_path(client: FlaskClient) -> None:
    bad = valid_account("credit", currency="usd", details__apr=120, details__dueDate="soon")
    body = problem(client.post("/users/user123/accounts", json=bad), 422, "invalid-body")
    assert set(fields_in(body)) == {"currency", "details.apr", "details.dueDate"}
    assert "details.apr" in body["detail"]


@pytest.mark.parametrize("json", [[], "account", 7, None])
def test_a_body_that_is_not_an_object_is_a_422(client: FlaskClient, json: Any) -> None:
    response = client.post(
        "/users/user123/accounts", data=dumps_bytes(json), content_type="application/json"
    )
    body = problem(response, 422, "invalid-body")
    assert body["errors"] == [{"field": "", "detail": "Must be a JSON object."}]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_a_415(client: FlaskClient, content_type: str | None) -> None:
    data = dumps_bytes(valid_account("loan"))
    response = client.post("/users/user123/accounts", data=data, content_type=content_type)
    problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"",
        b'{"id": }',
        b"\xff\xfe",
        b'{"balance": NaN}',
        b'{"balance": Infinity}',
        b'{"id": "a", "id": "b"}',
        b"[" * 50_000,
    ],
)
def test_malformed_json_is_a_400(client: FlaskClient, data: bytes) -> None:
    response = client.post("/users/user123/accounts", data=data, content_type="application/json")
    assert problem(response, 400, "malformed-json")["detail"].startswith("The body is not JSON")


def test_a_body_over_the_size_limit_is_a_413(client: FlaskClient) -> None:
    big = valid_account("loan", accountName="x" * 70_000)
    response = client.post("/users/user123/accounts", json=big)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert body_of(response)["title"] == "Request Entity Too Large"


def test_json_with_a_suffix_media_type_is_json(client: FlaskClient) -> None:
    response = client.post(
        "/users/user000/accounts",
        data=dumps_bytes(valid_account("loan")),
        content_type="application/vnd.accounts+json; charset=utf-8",
    )
    assert response.status_code == 201


def test_amounts_in_the_body_stay_exact(client: FlaskClient) -> None:
    data = dumps_bytes(valid_account("credit")).replace(b"1200.45", b"0.1000")
    response = client.post("/users/user000/accounts", data=data, content_type="application/json")
    assert b'"balance":0.1000' in response.data


# Accounts: replace, patch, delete


def test_put_replaces_the_whole_account_and_may_change_its_type(client: FlaskClient) -> None:
    loan = valid_account("loan")
    del loan["id"]
    response = client.put("/users/user123/accounts/acc1", json=loan)
    assert response.status_code == 200
    assert body_of(response) == {**loads_exact(dumps_bytes(loan)), "id": "acc1"}
    assert body_of(client.get("/users/user123/accounts/acc1"))["type"] == "loan"
    assert account_ids(client, "user123") == ["acc1", "acc2", "acc3"], "keeps its place"


def test_put_must_be_complete(client: FlaskClient) -> None:
    response = client.put("/users/user123/accounts/acc1", json={"type": "credit", "balance": 1})
    assert {"provider", "details"} <= set(fields_in(problem(response, 422, "invalid-body")))


def test_put_cannot_change_the_id(client: FlaskClient) -> None:
    response = client.put("/users/user123/accounts/acc1", json=valid_account("credit", id="acc9"))
    assert "the id in the URL" in fields_in(problem(response, 422, "invalid-body"))["id"]


def test_put_does_not_create(client: FlaskClient) -> None:
    response = client.put("/users/user123/accounts/acc9", json=valid_account("credit", id="acc9"))
    problem(response, 404, "account-not-found")


def test_patch_merges_into_details(client: FlaskClient) -> None:
    response = client.patch(
        "/users/user123/accounts/acc1", json={"balance": 99.5, "details": {"apr": 18.25}}
    )
    assert response.status_code == 200
    assert body_of(response)["details"] == {
        "creditLimit": 5000,
        "availableCredit": 3800,
        "apr": Decimal("18.25"),
        "dueDate": "2025-06-15",
    }
    assert body_of(response)["balance"] == Decimal("99.5")
    assert body_of(client.get("/users/user123/accounts/acc1")) == body_of(response)


def test_patch_accepts_merge_patch_json(client: FlaskClient) -> None:
    response = client.patch(
        "/users/user123/accounts/acc1",
        data=b'{"accountName": "Freedom Flex"}',
        content_type="application/merge-patch+json",
    )
    assert body_of(response)["accountName"] == "Freedom Flex"


def test_patch_cannot_change_the_type(client: FlaskClient) -> None:
    response = client.patch(
        "/users/user123/accounts/acc1",
        json={"type": "loan", "details": VALID_ACCOUNTS["loan"]["details"]},
    )
    body = problem(response, 422, "type-change-needs-put")
    assert "PUT" in body["detail"]
    assert fields_in(body) == {"type": "Must stay 'credit' in a PATCH."}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"details": {"apr": None}}, "details.apr"),
        ({"details": {"apr": -1}}, "details.apr"),
        ({"details": {"bonus": 1}}, "details.bonus"),
        ({"id": "acc9"}, "id"),
        ({"balance": "1"}, "balance"),
    ],
)
def test_a_patch_that_leaves_an_invalid_account_is_a_422(
    client: FlaskClient, patch: dict[str, Any], field: str
) -> None:
    response = client.patch("/users/user123/accounts/acc1", json=patch)
    assert field in fields_in(problem(response, 422, "invalid-body"))


def test_delete_an_account(client: FlaskClient) -> None:
    response = client.delete("/users/user123/accounts/acc2")
    assert response.status_code == 204
    assert account_ids(client, "user123") == ["acc1", "acc3"]
    problem(client.delete("/users/user123/accounts/acc2"), 404, "account-not-found")
    problem(client.delete("/users/nobody/accounts/acc2"), 404, "user-not-found")


# ETags and preconditions


@pytest.mark.parametrize(
    "path",
    [
        "/users/user123/accounts",
        "/users/user123/accounts?type=loan",
        "/users/user123/accounts/acc1",
    ],
)
def test_if_none_match_gives_304_until_the_data_changes(client: FlaskClient, path: str) -> None:
    first = client.get(path)
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag), "a strong ETag"
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag

    client.put("/users/user123/accounts/acc1", json=valid_account("loan", id="acc1"))
    client.patch("/users/user123/accounts/acc2", json={"balance": 1})
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_a_users_etag_changes_with_their_account_count(client: FlaskClient) -> None:
    etag = client.get("/users/user123").headers["ETag"]
    assert client.get("/users/user123", headers={"If-None-Match": etag}).status_code == 304
    client.delete("/users/user123/accounts/acc1")
    assert client.get("/users/user123", headers={"If-None-Match": etag}).status_code == 200


def test_etags_differ_between_filters(client: FlaskClient) -> None:
    tags = {
        client.get(f"/users/user123/accounts?type={t}").headers["ETag"]
        for t in ["credit", "loan", "checking"]
    }
    assert len(tags) == 3


WRITES = [
    ("PUT", valid_account("credit", id="acc1", balance=1)),
    ("PATCH", {"balance": 1}),
    ("DELETE", None),
]


def assert_written(client: FlaskClient, method: str, response: Any) -> None:
    """The write went through, as read back: a DELETE left no account, a PUT or a PATCH the
    balance of 1 that both send."""
    after = client.get("/users/user123/accounts/acc1")
    if method == "DELETE":
        assert response.status_code == 204
        assert after.status_code == 404
    else:
        assert response.status_code == 200
        assert after.get_json()["balance"] == 1
        assert after.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize(("method", "json"), WRITES)
def test_a_write_with_a_stale_if_match_is_a_412(
    client: FlaskClient, method: str, json: Any
) -> None:
    stale = client.get("/users/user123/accounts/acc1").headers["ETag"]
    client.patch("/users/user123/accounts/acc1", json={"accountName": "changed by someone else"})
    before = client.get("/users/user123/accounts/acc1").data

    response = client.open(
        "/users/user123/accounts/acc1", method=method, json=json, headers={"If-Match": stale}
    )
    assert "changed since it was read" in problem(response, 412, "precondition-failed")["detail"]
    assert client.get("/users/user123/accounts/acc1").data == before


@pytest.mark.parametrize(("method", "json"), WRITES)
@pytest.mark.parametrize("condition", ["current", "*", "list"])
def test_a_write_with_a_current_if_match_goes_through(
    client: FlaskClient, method: str, json: Any, condition: str
) -> None:
    etag = client.get("/users/user123/accounts/acc1").headers["ETag"]
    header = {"current": etag, "*": "*", "list": f'"0123", {etag}'}[condition]
    response = client.open(
        "/users/user123/accounts/acc1", method=method, json=json, headers={"If-Match": header}
    )
    assert_written(client, method, response)


@pytest.mark.parametrize(("method", "json"), WRITES)
def test_a_weak_etag_never_matches(client: FlaskClient, method: str, json: Any) -> None:
    etag = client.get("/users/user123/accounts/acc1").headers["ETag"]
    response = client.open(
        "/users/user123/accounts/acc1", method=method, json=json, headers={"If-Match": f"W/{etag}"}
    )
    problem(response, 412, "precondition-failed")


@pytest.mark.parametrize(("method", "json"), WRITES)
def test_a_write_without_if_match_is_unconditional(
    client: FlaskClient, method: str, json: Any
) -> None:
    client.patch("/users/user123/accounts/acc1", json={"accountName": "changed by someone else"})
    response = client.open("/users/user123/accounts/acc1", method=method, json=json)
    assert_written(client, method, response)


def test_the_etag_of_a_write_is_the_etag_of_the_next_read(client: FlaskClient) -> None:
    written = client.patch("/users/user123/accounts/acc1", json={"balance": 7})
    read = client.get("/users/user123/accounts/acc1")
    assert written.headers["ETag"] == read.headers["ETag"]
    again = client.patch(
        "/users/user123/accounts/acc1",
        json={"balance": 8},
        headers={"If-Match": written.headers["ETag"]},
    )
    assert again.status_code == 200


# All or nothing


REJECTED = [
    ("POST", "/users", {"id": "user123"}, None),
    ("POST", "/users", {"id": "no good"}, None),
    ("DELETE", "/users/nobody", None, None),
    ("POST", "/users/user123/accounts", valid_account("loan", id="acc1"), None),
    ("POST", "/users/user123/accounts", valid_account("loan", details__principal=-1), None),
    ("POST", "/users/nobody/accounts", valid_account("loan"), None),
    ("PUT", "/users/user123/accounts/acc1", valid_account("loan", details__apr=1), None),
    ("PUT", "/users/user123/accounts/acc1", valid_account("loan"), '"stale"'),
    ("PATCH", "/users/user123/accounts/acc1", {"details": {"apr": 101}}, None),
    ("PATCH", "/users/user123/accounts/acc1", {"type": "loan"}, None),
    ("PATCH", "/users/user123/accounts/acc1", {"balance": 1}, '"stale"'),
    ("DELETE", "/users/user123/accounts/acc1", None, '"stale"'),
    ("DELETE", "/users/user123/accounts/acc9", None, None),
    ("PUT", "/users/user123/accounts", valid_account("loan"), None),
    ("POST", "/reset", {"u1": [valid_account("loan", currency="usd")]}, None),
]


def test_a_rejected_request_leaves_the_store_byte_for_byte_unchanged(
    fixture_client: FlaskClient,
) -> None:
    before = fixture_client.get("/export").data
    for method, path, json, if_match in REJECTED:
        headers = {"If-Match": if_match} if if_match else {}
        response = fixture_client.open(path, method=method, json=json, headers=headers)
        assert 400 <= response.status_code < 500, (method, path, response.data)
    for path, data in [("/users/user123/accounts", b"{"), ("/users/user123/accounts", b"[]")]:
        fixture_client.post(path, data=data, content_type="application/json")
    fixture_client.post("/users/user123/accounts", data=b"x" * 70_000, content_type="text/plain")
    assert fixture_client.get("/export").data == before


def test_the_size_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNTS_MAX_CONTENT_LENGTH", "100")
    client = create_app({"SEED_DATA": str(SEED_FILE)}).test_client()
    assert client.post("/users", json={"id": "u" * 60}).status_code == 201
    assert client.post("/users", json={"id": "u" * 60, "pad": "x" * 100}).status_code == 413


def test_a_write_that_would_link_an_account_is_a_409_naming_the_field(
    client: FlaskClient,
) -> None:
    before = client.get("/users/user123/accounts").data
    response = client.patch("/users/user123/accounts/acc1", json={"connectionId": "c1"})
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem is not None
    assert problem["type"].endswith("/provider-owned")
    assert problem["errors"] == [
        {"field": "connectionId", "detail": "Set by the provider's syncs."}
    ]
    created = client.post(
        "/users/user123/accounts", json=valid_account("loan", id="l7", externalId="x")
    )
    assert created.status_code == 409
    assert client.get("/users/user123/accounts").data == before


def test_past_the_most_accounts_a_user_may_hold_a_create_is_a_409() -> None:
    from app import create_app

    client = create_app(
        {"SEED_DATA": str(SEED_FILE), "MAX_ACCOUNTS_PER_USER": 4, "RATE_LIMIT_PER_ADDRESS": ""}
    ).test_client()
    # user123 holds 3: one more fits, the next does not.
    assert (
        client.post("/users/user123/accounts", json=valid_account("loan", id="n1")).status_code
        == 201
    )
    refused = client.post("/users/user123/accounts", json=valid_account("loan", id="n2"))
    assert (refused.status_code, refused.mimetype) == (409, "application/problem+json")
    assert refused.get_json()["type"].endswith("too-many-accounts")
    assert len(client.get("/users/user123/accounts").get_json()["accounts"]) == 4
    assert client.delete("/users/user123/accounts/n1").status_code == 204
    assert (
        client.post("/users/user123/accounts", json=valid_account("loan", id="n2")).status_code
        == 201
    )


def test_the_users_are_listed_a_page_at_a_time_following_next(client: FlaskClient) -> None:
    seen: list[str] = []
    query = "limit=2"
    while True:
        page = client.get(f"/users?{query}")
        assert page.status_code == 200
        listed = page.get_json()
        seen += listed["users"]
        if listed["next"] is None:
            break
        query = f"limit=2&after={listed['next']}"
    assert seen == ["user000", "user123", "user321", "user456", "user789"]
    refused = client.get("/users?limit=101")
    assert refused.status_code == 400
    assert refused.get_json()["errors"] == [
        {
            "parameter": "limit",
            "detail": "Must be greater than or equal to 1 and less than or equal to 100.",
        }
    ]


def test_the_providers_are_those_configured(client: FlaskClient) -> None:
    assert client.get("/providers").get_json() == {"providers": []}


def test_a_user_has_a_base_currency_a_patch_changes(client: FlaskClient) -> None:
    assert client.get("/users/user123").get_json()["baseCurrency"] == "USD"
    changed = client.patch("/users/user123", json={"baseCurrency": "EUR"})
    assert changed.status_code == 200
    assert changed.get_json() == {"userId": "user123", "accountCount": 3, "baseCurrency": "EUR"}
    assert client.get("/users/user123").get_json()["baseCurrency"] == "EUR"
    for body in ({"baseCurrency": "EURO"}, {"baseCurrency": None}, {"userId": "x"}):
        refused = client.patch("/users/user123", json=body)
        assert refused.status_code == 422, body
    assert client.patch("/users/nobody", json={"baseCurrency": "EUR"}).status_code == 404
    assert client.get("/users/user123").get_json()["baseCurrency"] == "EUR"


def test_the_summary_adds_currencies_up_only_with_rates_and_names_the_missing(
    client: FlaskClient,
) -> None:
    today = utcnow().date()
    rates = components_of(client.application).rates
    # 1 EUR buys 1.25 USD (and 0.8 GBP) today; the ARS has no rate, as at the ECB.
    rates.store_rates([Rate(today, "USD", Decimal("1.25")), Rate(today, "GBP", Decimal("0.8"))])
    for account in (
        valid_account("savings", id="eu", currency="EUR", balance=100),
        valid_account("savings", id="ar", currency="ARS", balance=5000),
    ):
        assert client.post("/users/user123/accounts", json=account).status_code == 201
    summary = loads_exact(client.get("/users/user123/summary?currency=GBP").data)
    usd = next(total for total in summary["currencies"] if total["currency"] == "USD")
    # The USD totals through the euro, and the 100 EUR, into pounds; rounded once, at the end.
    assets = (usd["assets"] / Decimal("1.25") + 100) * Decimal("0.8")
    liabilities = usd["liabilities"] / Decimal("1.25") * Decimal("0.8")
    assert summary["converted"] == {
        "currency": "GBP",
        "assets": assets.quantize(Decimal("0.01")),
        "liabilities": liabilities.quantize(Decimal("0.01")),
        "netWorth": assets.quantize(Decimal("0.01")) - liabilities.quantize(Decimal("0.01")),
        "missingRates": ["ARS"],
        "ratesOf": today.isoformat(),
    }
    assert "converted" not in loads_exact(client.get("/users/user123/summary").data)
    assert client.get("/users/user123/summary?currency=usd").status_code == 400
