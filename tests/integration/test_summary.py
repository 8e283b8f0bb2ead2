"""Net worth: the rules on examples, and as a property, through HTTP, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.adapters.exact_json import loads_exact
from app.adapters.storage.memory import InMemoryAccountRepository
from app.adapters.storage.sql import SqlAccountRepository
from app.domain.accounts import Account, AccountType
from app.schemas.accounts import AccountSchema
from app.services.rates import Rate
from app.services.repositories import Store
from app.services.summary import summarize
from tests.conftest import serve_from
from tests.databases import migrated
from tests.samples import valid_account
from tests.unit.test_properties import accounts_in

_schema = AccountSchema()
#: Said here again, not imported: the property must not take the rule from the code it checks.
ASSETS = {"checking", "savings", "investment"}


def account(kind: str, balance: str, currency: str = "USD", **changes: Any) -> Account:
    loaded: Account = _schema.load(
        {**valid_account(kind, id=f"{kind}-{balance}-{currency}"), **changes}
    )
    return replace(loaded, balance=Decimal(balance), currency=currency)


def test_assets_less_liabilities_per_currency_never_across() -> None:
    found = summarize(
        [
            account("checking", "-42.17"),  # an overdraft: a negative asset, not a liability
            account("savings", "1000.10"),
            account("investment", "0.07"),
            account("credit", "250.25"),
            account("loan", "800"),
            account("savings", "5", "EUR"),
            account("credit", "7.5", "EUR", status="closed"),
            account("loan", "99", "EUR", includeInNetWorth=False),
            account("checking", "3", "EUR", hidden=True),  # hidden is for display: still counted
        ]
    )
    assert [summary.currency for summary in found] == ["EUR", "USD"]
    eur, usd = found
    assert (usd.assets, usd.liabilities, usd.net_worth) == (
        Decimal("958.00"),
        Decimal("1050.25"),
        Decimal("-92.25"),
    )
    assert usd.by_type[AccountType.CHECKING].total == Decimal("-42.17")
    assert (usd.closed, usd.left_out) == (0, 0)
    assert (eur.assets, eur.liabilities, eur.net_worth) == (Decimal(8), Decimal(0), Decimal(8))
    assert (eur.closed, eur.left_out) == (1, 1)
    assert eur.by_type[AccountType.LOAN].count == 0
    assert summarize([]) == []


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield InMemoryAccountRepository({})
        return
    url = (
        f"sqlite:///{tmp_path / 'summary.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = migrated(url)
    yield SqlAccountRepository(engine)
    engine.dispose()


@pytest.fixture
def client(store: Store) -> FlaskClient:
    app = create_app({"SEED_DATA": "", "RATE_LIMIT_PER_ADDRESS": ""})
    serve_from(app, store)
    return app.test_client()


account_sets = st.lists(
    accounts_in(st.sampled_from(["USD", "EUR", "JPY"])),
    max_size=12,
    unique_by=lambda found: found.id,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(account_sets)
def test_the_summary_is_the_sum_of_the_listed_accounts(
    store: Store, client: FlaskClient, generated: list[Account]
) -> None:
    store.replace_all({"u1": generated})
    listed = loads_exact(client.get("/users/u1/accounts").data)["accounts"]
    answered = client.get("/users/u1/summary")
    assert answered.status_code == 200
    summary = {entry["currency"]: entry for entry in loads_exact(answered.data)["currencies"]}
    assert set(summary) == {found["currency"] for found in listed}
    for currency, entry in summary.items():
        mine = [found for found in listed if found["currency"] == currency]
        counted = [
            found for found in mine if found["status"] == "open" and found["includeInNetWorth"]
        ]
        for kind in AccountType:
            of_kind = [found["balance"] for found in counted if found["type"] == kind]
            assert entry["byType"][kind] == {
                "count": len(of_kind),
                "total": sum(of_kind, Decimal(0)),
            }
        assets = sum((f["balance"] for f in counted if f["type"] in ASSETS), Decimal(0))
        owed = sum((f["balance"] for f in counted if f["type"] not in ASSETS), Decimal(0))
        assert (entry["assets"], entry["liabilities"], entry["netWorth"]) == (
            assets,
            owed,
            assets - owed,
        )
        assert entry["closedAccounts"] == sum(1 for f in mine if f["status"] == "closed")
        assert entry["excludedAccounts"] == sum(
            1 for f in mine if f["status"] == "open" and not f["includeInNetWorth"]
        )


def test_the_summary_is_cached_and_made_stale_by_a_write_like_the_list(
    store: Store, client: FlaskClient
) -> None:
    store.replace_all({"u1": [account("savings", "10")]})
    first = client.get("/users/u1/summary")
    assert (
        client.get(
            "/users/u1/summary", headers={"If-None-Match": first.headers["ETag"]}
        ).status_code
        == 304
    )
    client.patch("/users/u1/accounts/savings-10-USD", json={"balance": 11})
    after = client.get("/users/u1/summary", headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert loads_exact(after.data)["currencies"][0]["netWorth"] == Decimal(11)
    client.patch("/users/u1/accounts/savings-10-USD", json={"includeInNetWorth": False})
    left_out = loads_exact(client.get("/users/u1/summary").data)["currencies"][0]
    assert (left_out["netWorth"], left_out["excludedAccounts"]) == (Decimal(0), 1)
    missing = client.get("/users/nobody/summary")
    assert (missing.status_code, missing.mimetype) == (404, "application/problem+json")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(account_sets, st.sampled_from(["EUR", "USD", "JPY", "GBP"]))
def test_net_worth_today_is_the_summarys_converted_total(
    store: Store, client: FlaskClient, generated: list[Account], currency: str
) -> None:
    today = datetime.now(UTC).date()
    # The pound has no rate: where it is asked for, everything else is missing.
    store.store_rates(
        [Rate(today, "USD", Decimal("1.0843")), Rate(today, "JPY", Decimal("162.37"))]
    )
    store.replace_all({"u1": generated})
    summary = loads_exact(client.get(f"/users/u1/summary?currency={currency}").data)["converted"]
    series = client.get(f"/users/u1/net-worth?from={today}&currency={currency}")
    assert series.status_code == 200
    points = loads_exact(series.data)["points"]
    keys = ("assets", "liabilities", "netWorth", "missingRates")
    if not points:  # no account counts: nothing to draw, and nothing summed
        assert (summary["assets"], summary["liabilities"]) == (0, 0)
        return
    [point] = points
    assert point["date"] == today.isoformat()
    assert {key: point[key] for key in keys} == {key: summary[key] for key in keys}
    assert str(point["netWorth"]) == str(summary["netWorth"])  # to the cent, as written
