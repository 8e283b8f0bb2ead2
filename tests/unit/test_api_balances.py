"""An account's balance history over HTTP: the series, with its ETag, and past balances entered
by hand, refused on a synced account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask.testing import FlaskClient

from app import create_app
from app.adapters.exact_json import loads_exact
from tests.conftest import WriteSeed
from tests.samples import valid_account

TODAY = datetime.now(UTC).date()
BALANCES = "/users/user123/accounts/acc3/balances"


def points(client: FlaskClient, query: str = "") -> list[tuple[str, Decimal]]:
    answer = client.get(f"{BALANCES}{query}")
    assert answer.status_code == 200, answer.data
    return [(point["date"], point["balance"]) for point in loads_exact(answer.data)["points"]]


def test_a_series_is_the_last_balance_on_or_before_each_day(client: FlaskClient) -> None:
    # The seed's balance is today's; a write today replaces it; past days entered by hand.
    assert points(client) == [(TODAY.isoformat(), Decimal(3400))]
    assert client.patch("/users/user123/accounts/acc3", json={"balance": 3500}).status_code == 200
    for days_ago, balance in [(20, 3000), (10, 3100)]:
        day = (TODAY - timedelta(days=days_ago)).isoformat()
        entered = client.post(BALANCES, json={"date": day, "balance": balance})
        assert entered.status_code == 201
        assert entered.headers["Location"] == f"{BALANCES}/{day}"
    weekly = points(client, f"?from={(TODAY - timedelta(days=21)).isoformat()}&interval=week")
    assert weekly == [
        ((TODAY - timedelta(days=14)).isoformat(), Decimal(3000)),  # none before the first
        ((TODAY - timedelta(days=7)).isoformat(), Decimal(3100)),
        (TODAY.isoformat(), Decimal(3500)),  # always the account's own balance today
    ]
    daily = points(client, f"?from={(TODAY - timedelta(days=11)).isoformat()}")
    assert [balance for _, balance in daily] == [3000, 3100, *[3100] * 9, 3500]


def test_the_series_has_an_etag_and_a_304(client: FlaskClient) -> None:
    first = client.get(BALANCES)
    assert client.get(BALANCES, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    client.patch("/users/user123/accounts/acc3", json={"balance": 1})
    assert client.get(BALANCES, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_bad_ranges_and_unknown_accounts_are_refused(client: FlaskClient) -> None:
    for query in [
        "?from=2026-12-07&to=2026-12-06",
        "?from=2000-01-01&to=2026-12-06",
        "?interval=year",
        "?to=soon",
    ]:
        refused = client.get(f"{BALANCES}{query}")
        assert refused.status_code == 400, query
        assert refused.mimetype == "application/problem+json"
    assert client.get("/users/user123/accounts/nope/balances").status_code == 404
    assert client.get("/users/nobody/accounts/acc3/balances").status_code == 404


def test_valuations_are_of_past_days_and_can_be_taken_back(client: FlaskClient) -> None:
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert client.post(BALANCES, json={"date": TODAY.isoformat(), "balance": 1}).status_code == 422
    assert client.post(BALANCES, json={"date": yesterday, "balance": "1"}).status_code == 422
    assert client.post(BALANCES, json={"date": yesterday, "balance": 5}).status_code == 201
    assert client.delete(f"{BALANCES}/{yesterday}").status_code == 204
    assert client.delete(f"{BALANCES}/{yesterday}").status_code == 404
    assert client.delete(f"{BALANCES}/2026-02-30").status_code == 404
    assert points(client, f"?from={yesterday}") == [(TODAY.isoformat(), Decimal(3400))]


def test_a_synced_accounts_history_is_its_syncs_and_goes_with_it(
    client: FlaskClient, write_seed: WriteSeed
) -> None:
    synced = valid_account("checking", id="sy1", connectionId="c1", externalId="x1")
    seeded = create_app({"SEED_DATA": str(write_seed({"user123": [synced]}))}).test_client()
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    refused = seeded.post(
        "/users/user123/accounts/sy1/balances", json={"date": yesterday, "balance": 1}
    )
    assert refused.status_code == 409
    assert loads_exact(refused.data)["type"].endswith("/provider-owned")
    assert client.delete("/users/user123/accounts/acc3").status_code == 204
    assert client.get(BALANCES).status_code == 404


def test_the_first_and_last_days_there_are_answer_like_any_other(client: FlaskClient) -> None:
    for query in [
        "?from=0001-01-01&to=0001-03-01&interval=month",
        "?from=0001-01-01&to=0001-01-20&interval=week",
        "?from=9999-12-01&to=9999-12-31",
    ]:
        assert client.get(f"{BALANCES}{query}").status_code == 200, query
