"""What is due, over HTTP: each card's statement and each loan's next payment within the days
asked, overdue ones whenever due, soonest first; and what a statement says, validated."""

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


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def card(account_id: str, due_in: int, **owed: Any) -> dict[str, Any]:
    found = valid_account("credit", id=account_id)
    found["details"] = {**found["details"], "dueDate": day(due_in), **owed}
    return found


def loan(account_id: str, **owed: Any) -> dict[str, Any]:
    found = valid_account("loan", id=account_id)
    found["details"] = {**found["details"], **owed}
    return found


@pytest.fixture
def client(write_seed: WriteSeed) -> FlaskClient:
    accounts = [
        card("soon", 5, lastStatementBalance=500, minimumPayment=25, isOverdue=False),
        card("later", 40, lastStatementBalance=80, minimumPayment=10, isOverdue=False),
        card("late", -10, lastStatementBalance=900, minimumPayment=45, isOverdue=True),
        card("paid", -3, isOverdue=False),
        {**card("closed", 3), "status": "closed"},
        loan("car", nextPaymentDueDate=day(10), nextPaymentAmount=300),
        loan("unknown", nextPaymentDueDate=None, nextPaymentAmount=None),
        valid_account("checking", id="chk"),
    ]
    return create_app({"SEED_DATA": str(write_seed({"u1": accounts}))}).test_client()


def due(client: FlaskClient, query: str = "") -> list[tuple[Any, ...]]:
    answer = client.get(f"/users/u1/payments{query}")
    assert answer.status_code == 200, answer.data
    return [
        (p["accountId"], p["dueDate"], p["amountDue"], p["minimumPayment"], p["overdue"])
        for p in loads_exact(answer.data)["payments"]
    ]


def test_what_is_due_soonest_first_with_the_overdue(client: FlaskClient) -> None:
    assert due(client) == [
        ("late", day(-10), 900, 45, True),
        ("soon", day(5), 500, 25, False),
        ("car", day(10), 300, 300, False),
    ]
    assert [found[0] for found in due(client, "?within=60")] == ["late", "soon", "car", "later"]
    assert [found[0] for found in due(client, "?within=0")] == ["late"]
    answer = loads_exact(client.get("/users/u1/payments").data)
    assert (answer["userId"], answer["within"]) == ("u1", 30)
    assert answer["payments"][1] == {
        "accountId": "soon",
        "accountName": "Chase Freedom",
        "provider": "Chase",
        "type": "credit",
        "currency": "USD",
        "dueDate": day(5),
        "amountDue": 500,
        "minimumPayment": 25,
        "overdue": False,
    }


def test_bad_windows_and_unknown_users_are_refused(client: FlaskClient) -> None:
    for query in ["?within=-1", "?within=367", "?within=soon", "?within=1.5"]:
        refused = client.get(f"/users/u1/payments{query}")
        assert refused.status_code == 400, query
        assert refused.mimetype == "application/problem+json"
    assert client.get("/users/nobody/payments").status_code == 404


@pytest.mark.parametrize(
    ("owed", "field"),
    [
        ({"minimumPayment": -1}, "minimumPayment"),
        ({"cashAdvanceApr": 100.5}, "cashAdvanceApr"),
        ({"lastStatementDate": "2026-13-01"}, "lastStatementDate"),
        ({"isOverdue": "yes"}, "isOverdue"),
    ],
)
def test_what_a_statement_says_is_validated(
    client: FlaskClient, owed: dict[str, Any], field: str
) -> None:
    sent = card("new", 5, **owed)
    del sent["id"]
    refused = client.post("/users/u1/accounts", json=sent)
    assert refused.status_code == 422
    assert field in str(loads_exact(refused.data)["errors"])


def test_an_account_added_by_hand_may_say_what_it_owes_or_not(client: FlaskClient) -> None:
    bare = valid_account("credit")
    del bare["id"]
    for name in list(bare["details"]):
        if name not in ("creditLimit", "availableCredit", "apr", "dueDate"):
            del bare["details"][name]
    created = client.post("/users/u1/accounts", json=bare)
    assert created.status_code == 201, created.data
    assert set(loads_exact(created.data)["details"]) == {
        "creditLimit",
        "availableCredit",
        "apr",
        "dueDate",
    }  # nothing a statement would say: left out, as before there were statements
    where = created.headers["Location"]
    told = client.patch(where, json={"details": {"minimumPayment": 15, "dueDate": day(2)}})
    assert told.status_code == 200, told.data
    assert ("minimumPayment", 15) in loads_exact(told.data)["details"].items()
    account_id = loads_exact(told.data)["id"]
    assert (account_id, day(2), None, 15, False) in due(client)
