"""Properties over generated data: accounts survive a round trip; no body makes the server fail."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal
from typing import Any

import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.adapters.exact_json import dumps_bytes, loads_exact
from app.domain.accounts import (
    ID_RE,
    SUBTYPES,
    Account,
    AccountStatus,
    CheckingDetails,
    CreditDetails,
    InvestmentDetails,
    LoanDetails,
    SavingsDetails,
)
from app.schemas.accounts import AccountSchema
from app.schemas.fields import MAX_INTEGER_DIGITS, MAX_PLACES
from tests.conftest import SEED_FILE
from tests.samples import VALID_ACCOUNTS

LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS - 1


def exact_decimals(low: Decimal, high: Decimal) -> st.SearchStrategy[Decimal]:
    return st.integers(0, MAX_PLACES).flatmap(
        lambda places: st.decimals(low, high, places=places, allow_nan=False, allow_infinity=False)
    )


def routing_numbers() -> st.SearchStrategy[str]:
    def with_check_digit(first8: str) -> str:
        total = sum(int(d) * w for d, w in zip(first8, (3, 7, 1, 3, 7, 1, 3, 7), strict=True))
        return first8 + str(-total % 10)

    return st.text("0123456789", min_size=8, max_size=8).map(with_check_digit)


amounts = exact_decimals(Decimal(0), LIMIT)
percentages = exact_decimals(Decimal(0), Decimal(100))
# Any text a person could type: UTF-8 has no lone surrogates, and NUL is no text.
names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=100)

details = st.one_of(
    st.builds(CreditDetails, amounts, amounts, percentages, st.dates(date(1900, 1, 1))),
    st.builds(LoanDetails, amounts, percentages, st.integers(0, 1200)),
    st.builds(CheckingDetails, st.booleans(), routing_numbers()),
    st.builds(SavingsDetails, percentages, amounts, routing_numbers()),
    st.builds(InvestmentDetails, amounts, amounts),
)
CURRENCIES = sorted(currency.alpha_3 for currency in pycountry.currencies)


def accounts_in(currencies: st.SearchStrategy[str]) -> st.SearchStrategy[Account]:
    """Any valid account, with every field drawn, in one of `currencies`."""
    return details.flatmap(
        lambda drawn: st.builds(
            Account,
            id=st.from_regex(ID_RE, fullmatch=True),
            provider=names,
            account_name=names,
            balance=exact_decimals(-LIMIT, LIMIT),
            currency=currencies,
            details=st.just(drawn),
            subtype=st.sampled_from(SUBTYPES[drawn.account_type]),
            mask=st.none() | st.from_regex(r"[A-Za-z0-9]{2,4}", fullmatch=True),
            official_name=st.none() | names,
            nickname=st.none() | names,
            available_balance=st.none() | exact_decimals(-LIMIT, LIMIT),
            hidden=st.booleans(),
            include_in_net_worth=st.booleans(),
            status=st.sampled_from(list(AccountStatus)),
            balance_as_of=st.none() | st.datetimes(timezones=st.just(UTC)),
        )
    )


accounts = accounts_in(st.sampled_from(CURRENCIES))

schema = AccountSchema()


@given(accounts)
def test_every_account_survives_dump_and_load(account: Account) -> None:
    assert schema.load(schema.dump(account)) == account


@given(accounts)
def test_every_account_survives_json_text_digit_for_digit(account: Account) -> None:
    text = dumps_bytes(schema.dump(account))
    loaded = schema.load(loads_exact(text))
    assert loaded == account
    assert str(loaded.balance) == str(account.balance)
    assert dumps_bytes(schema.dump(loaded)) == text


# Integers within 64 bits, which is all the test's encoder (orjson) can write; larger numbers go
# in as raw bytes in test_huge_numbers_are_refused.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


def near_valid(account: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid account with one field, or one detail, replaced by any JSON value."""
    top = st.sampled_from(sorted(account)).flatmap(
        lambda key: json_values.map(lambda value: {**account, key: value})
    )
    nested = st.sampled_from(sorted(account["details"])).flatmap(
        lambda key: json_values.map(
            lambda value: {**account, "details": {**account["details"], key: value}}
        )
    )
    return top | nested


bodies = (
    json_values
    | st.sampled_from(list(VALID_ACCOUNTS.values())).flatmap(near_valid)
    | st.dictionaries(st.sampled_from(["id", "type", "details", "balance"]), json_values)
)
requests_to_write = st.sampled_from(
    [
        ("POST", "/users"),
        ("POST", "/users/user123/accounts"),
        ("PUT", "/users/user123/accounts/acc1"),
        ("PATCH", "/users/user123/accounts/acc2"),
        ("POST", "/reset"),
    ]
)
client = create_app(
    {"SEED_DATA": str(SEED_FILE), "FIXTURE_MODE": True, "RATE_LIMIT_PER_ADDRESS": ""}
).test_client()


def send(method: str, path: str, body: bytes, media: str) -> Any:
    # Back to the seed first: an earlier example may have reset the store to nothing, and then
    # every PUT and PATCH would be a 404 that never reaches validation.
    client.post("/reset")
    return client.open(path, method=method, data=body, content_type=media)


def assert_answered_without_failing(response: Any) -> None:
    assert response.status_code < 500, response.data
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_to_write, bodies)
def test_no_json_body_makes_the_server_fail(request: tuple[str, str], body: Any) -> None:
    method, path = request
    assert_answered_without_failing(send(method, path, dumps_bytes(body), "application/json"))


@settings(deadline=None)
@given(
    requests_to_write, st.binary(max_size=200), st.sampled_from(["application/json", "text/plain"])
)
def test_no_bytes_make_the_server_fail(request: tuple[str, str], body: bytes, media: str) -> None:
    method, path = request
    assert_answered_without_failing(send(method, path, body, media))


@pytest.mark.parametrize(
    "number", [b"1" * 400, b"-" + b"9" * 40, b"1e400", b"1e-400", b"0." + b"0" * 5000 + b"1"]
)
@pytest.mark.parametrize("field", [b"balance", b"remainingTermMonths"])
def test_huge_numbers_are_refused(number: bytes, field: bytes) -> None:
    sample = dumps_bytes(VALID_ACCOUNTS["loan"])
    value = {b"balance": b"8000", b"remainingTermMonths": b"12"}[field]
    body = sample.replace(b'"%s":%s' % (field, value), b'"%s":%s' % (field, number))
    assert body != sample
    response = client.post("/users/user123/accounts", data=body, content_type="application/json")
    assert response.status_code == 422, response.data
