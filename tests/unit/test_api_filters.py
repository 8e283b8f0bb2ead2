"""The list's filters over HTTP: subtype and status beside type, and one cached list per filter."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.adapters.exact_json import loads_exact


def ids(client: FlaskClient, query: str) -> list[str]:
    answer = client.get(f"/users/user789/accounts{query}")
    assert answer.status_code == 200, answer.data
    return [found["id"] for found in loads_exact(answer.data)["accounts"]]


#: Every subtype, as docs/accounts.md lists them per type, each once, in that order.
DOCUMENTED_SUBTYPES = [
    *["credit_card", "line_of_credit"],
    *["other", "mortgage", "student", "auto", "personal", "heloc", "business"],
    *["checking", "cash_management", "prepaid"],
    *["savings", "cd", "money_market", "hsa"],
    *["brokerage", "401k", "403b", "457b", "529", "ira", "roth", "roth_401k", "sep_ira"],
    *["simple_ira", "pension"],
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["acc5", "acc6", "acc7", "acc8"]),
        ("?subtype=mortgage", ["acc8"]),
        ("?subtype=mortgage,roth", ["acc6", "acc8"]),
        ("?subtype=roth&subtype=mortgage", ["acc6", "acc8"]),
        ("?subtype=student", []),
        ("?status=open", ["acc5", "acc6", "acc7", "acc8"]),
        ("?status=closed", []),
        ("?type=loan,investment&subtype=mortgage", ["acc8"]),
        ("?type=checking&status=open,closed", ["acc7"]),
    ],
)
def test_filters_take_the_same_forms_and_combine(
    client: FlaskClient, query: str, expected: list[str]
) -> None:
    assert ids(client, query) == expected


@pytest.mark.parametrize(
    ("query", "member", "allowed"),
    [
        ("?subtype=crypto", "allowedSubtypes", DOCUMENTED_SUBTYPES),
        ("?subtype=mortgage,crypto", "allowedSubtypes", DOCUMENTED_SUBTYPES),
        ("?status=shut", "allowedStatuses", ["open", "closed"]),
        ("?type=mortgage", "allowedTypes", ["credit", "loan", "checking", "savings", "investment"]),
    ],
)
def test_an_unknown_value_is_a_400_listing_the_allowed_ones(
    client: FlaskClient, query: str, member: str, allowed: list[str]
) -> None:
    answer = client.get(f"/users/user789/accounts{query}")
    assert (answer.status_code, answer.mimetype) == (400, "application/problem+json")
    problem: dict[str, Any] = loads_exact(answer.data)
    assert problem[member] == allowed
    if query == "?type=mortgage":
        assert "ask ?subtype=mortgage" in problem["detail"]


def test_each_filter_has_its_own_cached_list_and_none_goes_stale(client: FlaskClient) -> None:
    mortgages = client.get("/users/user789/accounts?subtype=mortgage")
    roths = client.get("/users/user789/accounts?subtype=roth")
    assert mortgages.headers["ETag"] != roths.headers["ETag"]
    # Another spelling of the same filter is the same list, tag and all.
    again = client.get("/users/user789/accounts?subtype=roth,roth")
    assert again.headers["ETag"] == roths.headers["ETag"]
    assert ids(client, "?status=open") == ["acc5", "acc6", "acc7", "acc8"]
    patched = client.patch("/users/user789/accounts/acc8", json={"status": "closed"})
    assert patched.status_code == 200
    assert ids(client, "?status=open") == ["acc5", "acc6", "acc7"]
    assert ids(client, "?status=closed") == ["acc8"]
    assert ids(client, "?subtype=mortgage") == ["acc8"]
    fresh = client.get(
        "/users/user789/accounts?subtype=mortgage",
        headers={"If-None-Match": mortgages.headers["ETag"]},
    )
    assert fresh.status_code == 200  # its body changed (status), so its tag did
