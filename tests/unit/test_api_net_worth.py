"""Net worth over time over HTTP: each day's balances converted with that day's rates, a missing
rate named and never taken 1:1, and today's point the summary's converted total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.adapters.exact_json import loads_exact
from app.entrypoints.http.context import components_of
from app.services.rates import Rate
from tests.conftest import WriteSeed
from tests.samples import valid_account

TODAY = datetime.now(UTC).date()
NET_WORTH = "/users/u1/net-worth"


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


@pytest.fixture
def client(write_seed: WriteSeed) -> FlaskClient:
    accounts = [
        valid_account("checking", id="chk", balance=1000, currency="USD"),
        valid_account("savings", id="sav", balance=500, currency="EUR"),
        valid_account("credit", id="card", balance=200, currency="GBP"),
        valid_account("loan", id="old", balance=50, currency="USD", status="closed"),
        valid_account("investment", id="out", balance=999, includeInNetWorth=False),
    ]
    app = create_app({"SEED_DATA": str(write_seed({"u1": accounts}))})
    components_of(app).rates.store_rates(
        [
            Rate(TODAY - timedelta(days=3), "USD", Decimal("1.25")),
            Rate(TODAY - timedelta(days=3), "GBP", Decimal("0.8")),
            Rate(TODAY - timedelta(days=1), "USD", Decimal("1.0")),
        ]
    )
    client = app.test_client()
    for account_id, days_ago, balance in [("chk", 3, 900), ("sav", 2, 400), ("card", 3, 300)]:
        entered = client.post(
            f"/users/u1/accounts/{account_id}/balances",
            json={"date": ago(days_ago), "balance": balance},
        )
        assert entered.status_code == 201
    return client


def series(client: FlaskClient, query: str) -> dict[str, Any]:
    answer = client.get(f"{NET_WORTH}{query}")
    assert answer.status_code == 200, answer.data
    found: dict[str, Any] = loads_exact(answer.data)
    return found


def test_each_day_counts_its_balances_at_its_rates(client: FlaskClient) -> None:
    found = series(client, f"?from={ago(5)}&currency=USD")
    assert (found["userId"], found["currency"], found["interval"]) == ("u1", "USD", "day")
    assert [
        (p["date"], p["assets"], p["liabilities"], p["netWorth"], p["missingRates"])
        for p in found["points"]
    ] == [
        # None before the first balance; 300 GBP at 0.8 per euro, 1.25 USD per euro = 468.75.
        (ago(3), Decimal("900.00"), Decimal("468.75"), Decimal("431.25"), []),
        (ago(2), Decimal("1400.00"), Decimal("468.75"), Decimal("931.25"), []),  # + 400 EUR
        (ago(1), Decimal("1300.00"), Decimal("375.00"), Decimal("925.00"), []),  # 1.0 per euro
        # Today: the accounts' own balances; the closed loan and the account left out count
        # nowhere, as in the summary.
        (ago(0), Decimal("1500.00"), Decimal("250.00"), Decimal("1250.00"), []),
    ]
    summary = loads_exact(client.get("/users/u1/summary?currency=USD").data)["converted"]
    today = found["points"][-1]
    assert {key: today[key] for key in ("assets", "liabilities", "netWorth")} == {
        key: summary[key] for key in ("assets", "liabilities", "netWorth")
    }


def test_a_missing_rate_is_named_and_left_out_never_one_to_one(client: FlaskClient) -> None:
    # No yen at all: every other currency is missing, and nothing is added.
    [today] = series(client, f"?from={ago(0)}&currency=JPY")["points"]
    assert today["missingRates"] == ["EUR", "GBP", "USD"]
    assert (today["assets"], today["liabilities"]) == (0, 0)
    # Eight days after the pound's last rate it is missing; the dollar's is six days old.
    later = TODAY + timedelta(days=5)
    [point] = series(client, f"?from={later}&to={later}&currency=USD")["points"]
    assert point["missingRates"] == ["GBP"]
    assert (point["assets"], point["liabilities"]) == (Decimal("1500.00"), 0)


def test_the_users_base_currency_is_the_default(client: FlaskClient) -> None:
    assert series(client, "")["currency"] == "USD"
    assert client.patch("/users/u1", json={"baseCurrency": "EUR"}).status_code == 200
    found = series(client, f"?from={ago(0)}")
    assert found["currency"] == "EUR"
    # 1000 USD at 1.0 per euro, plus 500 EUR; 200 GBP at 0.8 per euro.
    assert (found["points"][0]["assets"], found["points"][0]["liabilities"]) == (
        Decimal("1500.00"),
        Decimal("250.00"),
    )
    weekly = series(client, f"?from={ago(30)}&interval=week&currency=GBP")["points"]
    assert [point["date"] for point in weekly] == [ago(0)]  # none before the first balance


def test_bad_queries_and_unknown_users_are_refused_and_the_series_has_an_etag(
    client: FlaskClient,
) -> None:
    for query in ["?from=2026-12-07&to=2026-12-06", "?currency=usd", "?currency=XYZ", "?to=x"]:
        refused = client.get(f"{NET_WORTH}{query}")
        assert refused.status_code == 400, query
        assert refused.mimetype == "application/problem+json"
    assert client.get(f"{NET_WORTH}?from=2000-01-01&to=2026-12-06").status_code == 400
    assert client.get("/users/nobody/net-worth").status_code == 404
    first = client.get(NET_WORTH)
    assert (
        client.get(NET_WORTH, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    )
    client.patch("/users/u1/accounts/chk", json={"balance": 1})
    assert (
        client.get(NET_WORTH, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200
    )
