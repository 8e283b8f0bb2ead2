"""The read API over HTTP, through Flask's test client."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.adapters.exact_json import loads_exact
from harness import REPO_ROOT

# The original example's response for user123, byte for byte, with one deliberate change: the
# original's routing number 123456789 fails the ABA checksum, so the seed holds Wells Fargo's
# published 121000248 instead (see README, "Seed data").
USER123_RESPONSE = (
    b'{"userId":"user123","accounts":['
    b'{"id":"acc1","type":"credit","subtype":"credit_card","provider":"Chase",'
    b'"accountName":"Chase Freedom","officialName":"Chase Freedom Unlimited","nickname":null,'
    b'"mask":"4821","balance":1200.45,"availableBalance":3800,"currency":"USD","status":"open",'
    b'"balanceAsOf":null,"connectionId":null,"externalId":null,"hidden":false,'
    b'"includeInNetWorth":true,'
    b'"details":{"creditLimit":5000,"availableCredit":3800,"apr":19.99,"dueDate":"2025-06-15"}},'
    b'{"id":"acc2","type":"loan","subtype":"student","provider":"SoFi",'
    b'"accountName":"Student Loan","officialName":null,"nickname":null,"mask":"0912",'
    b'"balance":8000,"availableBalance":null,"currency":"USD","status":"open",'
    b'"balanceAsOf":null,"connectionId":null,"externalId":null,"hidden":false,'
    b'"includeInNetWorth":true,'
    b'"details":{"principal":10000,"interestRate":4.5,"remainingTermMonths":12}},'
    b'{"id":"acc3","type":"checking","subtype":"checking","provider":"Wells Fargo",'
    b'"accountName":"Wells Fargo Checking","officialName":"Everyday Checking","nickname":null,'
    b'"mask":"7730","balance":3400,"availableBalance":3400,"currency":"USD","status":"open",'
    b'"balanceAsOf":null,"connectionId":null,"externalId":null,"hidden":false,'
    b'"includeInNetWorth":true,'
    b'"details":{"overdraftProtection":true,"routingNumber":"121000248"}}]}'
)


def ids(body: dict[str, Any]) -> list[str]:
    return [account["id"] for account in body["accounts"]]


def get_json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.data
    expected_type = "application/json" if status < 400 else "application/problem+json"
    assert response.mimetype == expected_type
    return loads_exact(response.data)


def test_user123_gets_the_original_example_exactly(client: FlaskClient) -> None:
    response = client.get("/users/user123/accounts")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.data == USER123_RESPONSE


def test_user456_gets_the_original_example(client: FlaskClient) -> None:
    body = get_json(client, "/users/user456/accounts")
    assert body["userId"] == "user456"
    assert body["accounts"] == [
        {
            "id": "acc4",
            "type": "credit",
            "subtype": "credit_card",
            "provider": "Amex",
            "accountName": "Amex Gold",
            "officialName": "American Express Gold Card",
            "nickname": None,
            "mask": "1005",
            "balance": 2500,
            "availableBalance": 7500,
            "currency": "USD",
            "status": "open",
            "balanceAsOf": None,
            "connectionId": None,
            "externalId": None,
            "hidden": False,
            "includeInNetWorth": True,
            "details": {
                "creditLimit": 10000,
                "availableCredit": 7500,
                "apr": Decimal("23.99"),
                "dueDate": "2025-06-10",
            },
        }
    ]


def test_numbers_are_written_as_stored(client: FlaskClient) -> None:
    # 1210.50 is in the seed with its trailing zero, -42.17 is negative: both come back untouched.
    data = client.get("/users/user789/accounts").data
    assert b'"cashBalance":1210.50' in data
    assert b'"balance":-42.17' in data
    assert b'"apy":4.2,' in data


def test_accounts_keep_a_stable_order(client: FlaskClient) -> None:
    first = client.get("/users/user789/accounts").data
    assert ids(loads_exact(first)) == ["acc5", "acc6", "acc7", "acc8"]
    assert all(client.get("/users/user789/accounts").data == first for _ in range(5))


def test_every_account_type_is_served(client: FlaskClient) -> None:
    served = {
        account["type"]
        for user in ["user123", "user789", "user321"]
        for account in get_json(client, f"/users/{user}/accounts")["accounts"]
    }
    assert served == {"credit", "loan", "checking", "savings", "investment"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=credit", ["acc1"]),
        ("type=loan", ["acc2"]),
        ("type=checking", ["acc3"]),
        ("type=credit,loan", ["acc1", "acc2"]),
        ("type=loan,credit", ["acc1", "acc2"]),
        ("type=loan&type=credit", ["acc1", "acc2"]),
        ("type=credit,credit", ["acc1"]),
        ("type=savings", []),
        ("type=savings,investment", []),
    ],
)
def test_type_filter_returns_the_union_in_list_order(
    client: FlaskClient, query: str, expected: list[str]
) -> None:
    body = get_json(client, f"/users/user123/accounts?{query}")
    assert body["userId"] == "user123"
    assert ids(body) == expected


def test_filter_on_the_other_types(client: FlaskClient) -> None:
    assert ids(get_json(client, "/users/user789/accounts?type=savings")) == ["acc5"]
    assert ids(get_json(client, "/users/user789/accounts?type=investment,loan")) == ["acc6", "acc8"]


def test_known_user_without_accounts_gets_an_empty_list(client: FlaskClient) -> None:
    assert get_json(client, "/users/user000/accounts") == {"userId": "user000", "accounts": []}
    assert get_json(client, "/users/user000/accounts?type=credit")["accounts"] == []


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("type=mortgage", ["mortgage"]),
        ("type=credit,Loan", ["Loan"]),
        ("type=", [""]),
        ("type=credit&type=x,y", ["x", "y"]),
    ],
)
def test_unknown_type_is_a_400_listing_the_allowed_types(
    client: FlaskClient, query: str, bad: list[str]
) -> None:
    problem = get_json(client, f"/users/user123/accounts?{query}", status=400)
    assert problem["status"] == 400
    assert problem["title"] == "Invalid query parameter"
    assert problem["allowedTypes"] == ["credit", "loan", "checking", "savings", "investment"]
    assert "credit, loan, checking, savings, investment" in problem["detail"]
    assert [error["parameter"] for error in problem["errors"]] == ["type"] * len(bad)
    assert all(repr(value) in problem["detail"] for value in bad)


def test_unknown_type_is_refused_even_for_an_unknown_user(client: FlaskClient) -> None:
    # The request is malformed whoever it is about, so it is a 400 rather than a 404.
    get_json(client, "/users/nobody/accounts?type=mortgage", status=400)


def test_unknown_query_parameter_is_a_400(client: FlaskClient) -> None:
    problem = get_json(client, "/users/user123/accounts?typ=credit", status=400)
    assert problem["errors"] == [{"parameter": "typ", "detail": "Unknown query parameter."}]
    assert "this route takes: status, subtype, type" in problem["detail"]
    problem = get_json(client, "/users/user123/accounts/acc1?type=credit", status=400)
    assert "this route takes none" in problem["detail"]


def test_unknown_user_is_a_404(client: FlaskClient) -> None:
    problem = get_json(client, "/users/nobody/accounts", status=404)
    assert problem == {
        "type": "tag:accounts-service,2026:problems/user-not-found",
        "title": "User not found",
        "status": 404,
        "detail": "No user with id 'nobody'.",
    }


def test_one_account(client: FlaskClient) -> None:
    account = get_json(client, "/users/user123/accounts/acc2")
    assert account == loads_exact(USER123_RESPONSE)["accounts"][1]


def test_an_account_of_another_user_is_a_404(client: FlaskClient) -> None:
    problem = get_json(client, "/users/user123/accounts/acc4", status=404)
    assert problem["type"] == "tag:accounts-service,2026:problems/account-not-found"
    assert problem["detail"] == "User 'user123' has no account with id 'acc4'."


def test_an_account_of_an_unknown_user_is_a_404(client: FlaskClient) -> None:
    problem = get_json(client, "/users/nobody/accounts/acc1", status=404)
    assert problem["type"] == "tag:accounts-service,2026:problems/user-not-found"


@pytest.mark.parametrize(
    "path",
    [
        "/users/bad$id/accounts",
        "/users/-dash/accounts",
        f"/users/{'u' * 65}/accounts",
        "/users/user123/accounts/bad%20id",
        "/users//accounts",
    ],
)
def test_ids_outside_the_allowed_alphabet_are_not_found(client: FlaskClient, path: str) -> None:
    problem = get_json(client, path, status=404)
    assert problem["type"] == "about:blank"


def test_head_answers_like_get_without_a_body(client: FlaskClient) -> None:
    response = client.head("/users/user123/accounts")
    assert response.status_code == 200
    assert response.data == b""
    assert response.content_length == len(USER123_RESPONSE)


def test_the_readme_examples_show_what_the_service_answers(client: FlaskClient) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    example = readme.split("## Example", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    shown = re.findall(r"^\$ curl -s 'localhost:8000(\S+)'\n(.+)$", example, re.MULTILINE)
    assert len(shown) == 2
    for path, output in shown:
        assert client.get(path).data.decode() == output, path
