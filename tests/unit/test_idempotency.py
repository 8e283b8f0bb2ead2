"""Idempotency-Key on POST through Flask's test client: a retry gets the first answer and writes
nothing twice; another request with the key, a key in use and a malformed key are refused, each
with its documented type (and Retry-After for the one in use)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.adapters.exact_json import loads_exact
from app.domain.errors import StorageUnavailable
from app.services import accounts as accounts_service
from tests.conftest import SEED_FILE
from tests.samples import valid_account

NEW_LOAN = {key: value for key, value in valid_account("loan").items() if key != "id"}


def account_ids(client: FlaskClient, user: str = "user123") -> list[str]:
    return [
        found["id"] for found in loads_exact(client.get(f"/users/{user}/accounts").data)["accounts"]
    ]


def test_a_retry_gets_the_first_answer_and_nothing_is_written_twice(client: FlaskClient) -> None:
    before = account_ids(client)
    first = client.post(
        "/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "k-1"}
    )
    assert first.status_code == 201
    again = client.post(
        "/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "k-1"}
    )
    assert (again.status_code, again.data) == (201, first.data)
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert account_ids(client) == [*before, loads_exact(first.data)["id"]]
    # Without a key, or with another, it is a new request.
    other = client.post(
        "/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "k-2"}
    )
    assert other.status_code == 201
    assert len(account_ids(client)) == len(before) + 2


def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(client: FlaskClient) -> None:
    client.post("/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "k-3"})
    before = account_ids(client)
    changed = {**NEW_LOAN, "balance": 1}
    answer = client.post(
        "/users/user123/accounts", json=changed, headers={"Idempotency-Key": "k-3"}
    )
    assert (answer.status_code, answer.mimetype) == (422, "application/problem+json")
    assert loads_exact(answer.data)["type"].endswith("idempotency-key-reused")
    assert account_ids(client) == before


def test_keys_are_per_user_and_refusals_are_answered_again(client: FlaskClient) -> None:
    first = client.post(
        "/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "k-4"}
    )
    other_user = client.post(
        "/users/user456/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "k-4"}
    )
    assert first.status_code == other_user.status_code == 201
    bad = {**NEW_LOAN, "balance": "ten"}
    refused = client.post("/users/user123/accounts", json=bad, headers={"Idempotency-Key": "k-5"})
    assert refused.status_code == 422
    again = client.post("/users/user123/accounts", json=bad, headers={"Idempotency-Key": "k-5"})
    assert (again.status_code, again.data) == (422, refused.data)


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\tkey"])
def test_a_malformed_key_is_a_400(client: FlaskClient, key: str) -> None:
    answer = client.post("/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": key})
    assert answer.status_code == 400
    assert loads_exact(answer.data) == {
        "type": "tag:accounts-service,2026:problems/invalid-idempotency-key",
        "title": "Invalid idempotency key",
        "status": 400,
        "detail": "The Idempotency-Key must be 1 to 255 printable ASCII characters.",
    }


@pytest.mark.parametrize("key", ["k", "k" * 255, "~ !"])
def test_a_key_of_1_to_255_printable_ascii_characters_is_taken(
    client: FlaskClient, key: str
) -> None:
    answer = client.post("/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": key})
    assert answer.status_code == 201
    again = client.post("/users/user123/accounts", json=NEW_LOAN, headers={"Idempotency-Key": key})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")


def test_an_answer_of_500_is_not_kept_and_its_key_may_be_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = create_app({"SEED_DATA": str(SEED_FILE)}).test_client()  # answers 500s, as served
    keyed = {"Idempotency-Key": "k-500"}
    creating = accounts_service.create_account
    monkeypatch.setattr(accounts_service, "create_account", lambda *_: 1 / 0)
    assert client.post("/users/user123/accounts", json=NEW_LOAN, headers=keyed).status_code == 500
    monkeypatch.setattr(accounts_service, "create_account", creating)
    retried = client.post("/users/user123/accounts", json=NEW_LOAN, headers=keyed)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_creating_a_user_honours_the_key_too(client: FlaskClient) -> None:
    first = client.post("/users", json={}, headers={"Idempotency-Key": "new-user"})
    again = client.post("/users", json={}, headers={"Idempotency-Key": "new-user"})
    assert first.status_code == again.status_code == 201
    assert first.data == again.data  # one generated user, not two


def test_a_retry_while_the_first_runs_is_a_409_with_retry_after(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = {"Idempotency-Key": "k-9"}
    inner: list[Any] = []
    creating = accounts_service.create_account

    def create_while_a_retry_comes(*arguments: Any) -> Any:
        inner.append(client.post("/users/user123/accounts", json=NEW_LOAN, headers=keyed))
        return creating(*arguments)

    monkeypatch.setattr(accounts_service, "create_account", create_while_a_retry_comes)
    first = client.post("/users/user123/accounts", json=NEW_LOAN, headers=keyed)
    assert first.status_code == 201
    [retry] = inner
    assert (retry.status_code, retry.headers["Retry-After"]) == (409, "1")
    assert loads_exact(retry.data) == {
        "type": "tag:accounts-service,2026:problems/idempotency-key-in-use",
        "title": "Idempotency key in use",
        "status": 409,
        "detail": "A request with this Idempotency-Key is still running; retry once it has "
        "answered.",
    }


def test_the_description_offers_the_key_on_every_post_and_nowhere_else(client: FlaskClient) -> None:
    described = loads_exact(client.get("/openapi.json").data)
    for path, operations in described["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            names = [parameter.get("name") for parameter in operation.get("parameters", [])]
            assert ("Idempotency-Key" in names) is (
                method == "post" and path != "/webhooks/{provider}"
            ), (
                method,
                path,
            )


def test_an_answer_the_store_could_not_give_is_not_kept(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = {"Idempotency-Key": "k-503"}
    creating = accounts_service.create_account

    def unavailable(*_: Any) -> Any:
        raise StorageUnavailable()

    monkeypatch.setattr(accounts_service, "create_account", unavailable)
    refused = client.post("/users/user123/accounts", json=NEW_LOAN, headers=keyed)
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, "1")
    monkeypatch.setattr(accounts_service, "create_account", creating)
    retried = client.post("/users/user123/accounts", json=NEW_LOAN, headers=keyed)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
