"""An account added by hand merged into the synced account it turned out to be, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.adapters.exact_json import loads_exact
from tests.conftest import WriteSeed
from tests.samples import valid_account

TODAY = datetime.now(UTC).date()
SYNCED = {"connectionId": "c1", "externalId": "x1", "provider": "First Platypus Bank"}


def card(account_id: str, **changes: Any) -> dict[str, Any]:
    return {**valid_account("credit", id=account_id), "mask": "3333", **changes}


@pytest.fixture
def client(write_seed: WriteSeed) -> FlaskClient:
    accounts = [
        card("synced", **SYNCED),
        card("by-hand", provider="first platypus bank", nickname="Travel card"),
        card("other-mask", provider="First Platypus Bank", mask="9999"),
        {**valid_account("loan", id="a-loan"), "mask": "3333", "provider": "First Platypus Bank"},
    ]
    app = create_app({"SEED_DATA": str(write_seed({"u1": accounts}))})
    return app.test_client()


def test_the_hand_entered_account_goes_into_the_synced_one_with_its_history(
    client: FlaskClient,
) -> None:
    month_ago = (TODAY - timedelta(days=30)).isoformat()
    entered = client.post(
        "/users/u1/accounts/by-hand/balances", json={"date": month_ago, "balance": 99}
    )
    assert entered.status_code == 201
    merged = client.post("/users/u1/accounts/synced/merge", json={"accountId": "by-hand"})
    assert merged.status_code == 200, merged.data
    answer = loads_exact(merged.data)
    assert (answer["id"], answer["nickname"], answer["connectionId"]) == (
        "synced",
        "Travel card",
        "c1",
    )
    assert client.get("/users/u1/accounts/by-hand").status_code == 404
    series = loads_exact(
        client.get(f"/users/u1/accounts/synced/balances?from={month_ago}&interval=month").data
    )
    assert series["points"][0] == {"date": month_ago, "balance": 99}
    ids = [found["id"] for found in loads_exact(client.get("/users/u1/accounts").data)["accounts"]]
    assert ids == ["synced", "other-mask", "a-loan"]


@pytest.mark.parametrize(
    ("into", "taken", "status", "why"),
    [
        ("synced", "other-mask", 409, "masks differ"),
        ("synced", "a-loan", 409, "one is loan"),
        ("by-hand", "other-mask", 409, "merge into a synced account"),
        ("synced", "synced", 409, "itself"),
        ("synced", "nope", 404, ""),
        ("nope", "by-hand", 404, ""),
    ],
)
def test_accounts_that_are_not_the_same_are_not_merged(
    client: FlaskClient, into: str, taken: str, status: int, why: str
) -> None:
    refused = client.post(f"/users/u1/accounts/{into}/merge", json={"accountId": taken})
    assert refused.status_code == status, refused.data
    assert why in loads_exact(refused.data)["detail"]
    listed = loads_exact(client.get("/users/u1/accounts").data)["accounts"]
    assert len(listed) == 4  # nothing changed
