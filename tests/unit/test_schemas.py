"""Every field rule of every account type, through the schemas that load seeds and dump answers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from app.adapters.exact_json import dumps_bytes, loads_exact
from app.domain.accounts import SUBTYPES, Account, AccountStatus, AccountType
from app.domain.history import Interval
from app.schemas.accounts import ACCOUNT_SCHEMAS, AccountSchema
from app.schemas.errors import flatten_messages
from app.schemas.summary import NetWorthPointSchema, NetWorthSeriesSchema
from app.services.summary import ConvertedTotal
from tests.samples import VALID_ACCOUNTS, valid_account

schema = AccountSchema()


def errors_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        schema.load(raw)
    return dict(flatten_messages(caught.value.messages))


def test_every_account_type_has_a_schema_and_a_sample() -> None:
    assert set(ACCOUNT_SCHEMAS) == set(AccountType) == set(VALID_ACCOUNTS)


@pytest.mark.parametrize("account_type", list(AccountType))
def test_valid_account_loads_and_dumps_back_to_the_same_json(account_type: AccountType) -> None:
    # Through real JSON text, as a seed file would arrive, so floats never get a chance to appear.
    raw = loads_exact(dumps_bytes(VALID_ACCOUNTS[account_type]).decode())
    account = schema.load(raw)
    assert isinstance(account, Account)
    assert account.type is account_type
    assert schema.dump(account) == raw
    assert list(schema.dump(account)) == [
        "id",
        "type",
        "subtype",
        "provider",
        "accountName",
        "officialName",
        "nickname",
        "mask",
        "balance",
        "availableBalance",
        "currency",
        "status",
        "balanceAsOf",
        "connectionId",
        "externalId",
        "hidden",
        "includeInNetWorth",
        "details",
    ]


NEW_FIELDS = (
    "subtype",
    "officialName",
    "nickname",
    "mask",
    "availableBalance",
    "hidden",
    "includeInNetWorth",
)


@pytest.mark.parametrize("account_type", list(AccountType))
def test_an_account_without_the_newer_fields_still_loads_with_their_defaults(
    account_type: AccountType,
) -> None:
    older = dict(VALID_ACCOUNTS[account_type])
    for name in NEW_FIELDS:
        del older[name]
    account = schema.load(loads_exact(dumps_bytes(older)))
    assert account.subtype == SUBTYPES[account_type][0]
    assert (account.mask, account.official_name, account.nickname) == (None, None, None)
    assert (account.available_balance, account.hidden, account.include_in_net_worth) == (
        None,
        False,
        True,
    )


def test_an_investments_subtype_in_its_details_moves_to_the_account() -> None:
    older = valid_account("investment", details__subtype="roth_ira")
    del older["subtype"]
    account = schema.load(loads_exact(dumps_bytes(older)))
    assert account.subtype == "roth"
    assert "subtype" not in schema.dump(account)["details"]
    # Said in both places, the account's own wins; details never keep it.
    both = valid_account("investment", subtype="401k", details__subtype="ira")
    assert schema.load(both).subtype == "401k"


@pytest.mark.parametrize(
    ("account_type", "subtype"),
    [
        ("loan", "mortgage"),
        ("loan", "heloc"),
        ("credit", "line_of_credit"),
        ("savings", "hsa"),
        ("investment", "hsa"),
        ("checking", "cash_management"),
        ("investment", "529"),
    ],
)
def test_each_type_takes_its_own_subtypes(account_type: str, subtype: str) -> None:
    assert schema.load(valid_account(account_type, subtype=subtype)).subtype == subtype


def test_status_and_balance_as_of_may_be_left_out_and_as_of_is_kept_in_utc() -> None:
    bare = {
        name: value
        for name, value in VALID_ACCOUNTS["loan"].items()
        if name not in ("status", "balanceAsOf", "connectionId", "externalId")
    }
    account = schema.load(loads_exact(dumps_bytes(bare)))
    assert (account.status, account.balance_as_of) == (AccountStatus.OPEN, None)
    dated = schema.load({**bare, "status": "closed", "balanceAsOf": "2026-11-25T10:30:00.5-05:00"})
    assert dated.status is AccountStatus.CLOSED
    assert dated.balance_as_of == datetime(2026, 11, 25, 15, 30, 0, 500000, tzinfo=UTC)
    assert schema.dump(dated)["balanceAsOf"] == "2026-11-25T15:30:00.500000+00:00"
    for refused in ["2026-11-25T10:30:00", "yesterday", 1764075000]:
        with pytest.raises(ValidationError, match="balanceAsOf"):
            schema.load({**bare, "balanceAsOf": refused})
    with pytest.raises(ValidationError, match="status"):
        schema.load({**bare, "status": "frozen"})


def test_money_stays_decimal_digit_for_digit() -> None:
    raw = loads_exact(
        '{"id": "a", "type": "credit", "provider": "p", "accountName": "n", '
        '"balance": 1200.4500, "currency": "USD", "details": {"creditLimit": 0.1, '
        '"availableCredit": 3800, "apr": 19.99, "dueDate": "2025-06-15"}}'
    )
    account = schema.load(raw)
    assert account.balance == Decimal("1200.4500")
    assert str(account.balance) == "1200.4500"
    assert account.details.credit_limit == Decimal("0.1")
    assert b'"balance":1200.4500' in dumps_bytes(schema.dump(account))


def test_a_float_from_python_callers_keeps_its_shortest_spelling() -> None:
    # Decimal(1200.45) would be 1200.4500000000000454747350886464118957519531250.
    account = schema.load(valid_account("credit", balance=1200.45))
    assert str(account.balance) == "1200.45"


INVALID = [
    # (account type, changes, field path, part of the message)
    ("credit", {"id": "has space"}, "id", "letters, digits"),
    ("credit", {"id": ""}, "id", "letters, digits"),
    ("credit", {"id": "x" * 65}, "id", "1 to 64"),
    ("credit", {"provider": ""}, "provider", "Length"),
    ("credit", {"accountName": "n" * 101}, "accountName", "Length"),
    ("credit", {"balance": "1200.45"}, "balance", "JSON number"),
    ("credit", {"balance": True}, "balance", "Not a valid number"),
    ("credit", {"balance": float("nan")}, "balance", "Special numeric values"),
    ("credit", {"balance": float("inf")}, "balance", "Special numeric values"),
    ("credit", {"balance": Decimal("1.23456")}, "balance", "At most 4 decimal places"),
    ("credit", {"balance": Decimal("1E+15")}, "balance", "15 digits"),
    ("credit", {"currency": "usd"}, "currency", "ISO 4217"),
    ("credit", {"currency": "XYZ"}, "currency", "ISO 4217"),
    ("credit", {"currency": "US"}, "currency", "ISO 4217"),
    ("credit", {"nickName": "x"}, "nickName", "Unknown field"),
    ("credit", {"details__creditLimit": -1}, "details.creditLimit", "greater than or equal to 0"),
    (
        "credit",
        {"details__availableCredit": Decimal("-0.01")},
        "details.availableCredit",
        "greater than or equal to 0",
    ),
    ("credit", {"details__apr": Decimal("100.01")}, "details.apr", "less than or equal to 100"),
    ("credit", {"details__apr": -1}, "details.apr", "greater than or equal to 0"),
    ("credit", {"details__dueDate": "2025-13-01"}, "details.dueDate", "Not a valid date"),
    ("credit", {"details__dueDate": "15/06/2025"}, "details.dueDate", "Not a valid date"),
    ("credit", {"details__dueDate": 20250615}, "details.dueDate", "Not a valid date"),
    ("credit", {"details__cashBalance": 1}, "details.cashBalance", "Unknown field"),
    ("loan", {"details__principal": -1}, "details.principal", "greater than or equal to 0"),
    ("loan", {"details__interestRate": 101}, "details.interestRate", "less than or equal to 100"),
    ("loan", {"details__escrowBalance": 100}, "details.escrowBalance", "mortgage's only"),
    (
        "loan",
        {"subtype": "student", "details__escrowBalance": 0},
        "details.escrowBalance",
        "mortgage's only",
    ),
    (
        "loan",
        {"details__remainingTermMonths": Decimal("12.5")},
        "details.remainingTermMonths",
        "integer",
    ),
    ("loan", {"details__remainingTermMonths": "12"}, "details.remainingTermMonths", "integer"),
    ("loan", {"details__remainingTermMonths": True}, "details.remainingTermMonths", "integer"),
    (
        "loan",
        {"details__remainingTermMonths": -1},
        "details.remainingTermMonths",
        "greater than or equal to 0",
    ),
    ("checking", {"details__overdraftProtection": "yes"}, "details.overdraftProtection", "boolean"),
    ("checking", {"details__overdraftProtection": 1}, "details.overdraftProtection", "boolean"),
    ("checking", {"details__routingNumber": "123456789"}, "details.routingNumber", "check digit"),
    ("checking", {"details__routingNumber": "12100024"}, "details.routingNumber", "nine digits"),
    ("checking", {"details__routingNumber": "12100024a"}, "details.routingNumber", "nine digits"),
    ("checking", {"details__routingNumber": 121000248}, "details.routingNumber", "string"),
    ("savings", {"details__apy": Decimal("100.5")}, "details.apy", "less than or equal to 100"),
    (
        "savings",
        {"details__minimumBalance": -1},
        "details.minimumBalance",
        "greater than or equal to 0",
    ),
    ("savings", {"details__routingNumber": "123456789"}, "details.routingNumber", "check digit"),
    ("investment", {"subtype": "crypto"}, "subtype", "Must be one of"),
    ("loan", {"subtype": "credit_card"}, "subtype", "Must be one of: other, mortgage"),
    ("credit", {"subtype": "mortgage"}, "subtype", "Must be one of: credit_card"),
    ("credit", {"subtype": None}, "subtype", "may not be null"),
    ("credit", {"mask": "4111111111111111"}, "mask", "2 to 4"),
    ("credit", {"mask": "1"}, "mask", "2 to 4"),
    ("credit", {"mask": 1234}, "mask", "string"),
    ("credit", {"availableBalance": "10"}, "availableBalance", "JSON number"),
    ("credit", {"hidden": "false"}, "hidden", "boolean"),
    ("credit", {"includeInNetWorth": 0}, "includeInNetWorth", "boolean"),
    ("credit", {"nickname": ""}, "nickname", "Length"),
    ("credit", {"officialName": "x" * 201}, "officialName", "Length"),
    (
        "investment",
        {"details__holdingsValue": -1},
        "details.holdingsValue",
        "greater than or equal to 0",
    ),
    (
        "investment",
        {"details__cashBalance": -1},
        "details.cashBalance",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("account_type", "changes", "field", "message"), INVALID)
def test_invalid_field_is_refused_with_its_path(
    account_type: str, changes: dict[str, Any], field: str, message: str
) -> None:
    errors = errors_of(valid_account(account_type, **changes))
    assert field in errors, errors
    assert message in errors[field]


def test_a_mortgage_holds_an_escrow_balance() -> None:
    raw = valid_account("loan", subtype="mortgage", details__escrowBalance=Decimal("1234.56"))
    loaded = AccountSchema().load(raw)
    assert loaded.details.escrow_balance == Decimal("1234.56")


@pytest.mark.parametrize("account_type", list(AccountType))
def test_missing_details_field_is_refused(account_type: AccountType) -> None:
    raw = valid_account(account_type)
    missing = next(iter(raw["details"]))
    del raw["details"][missing]
    assert errors_of(raw) == {f"details.{missing}": "Missing data for required field."}


def test_details_of_another_type_are_refused() -> None:
    raw = valid_account("credit", details=VALID_ACCOUNTS["loan"]["details"])
    assert "details.creditLimit" in errors_of(raw)
    assert errors_of(raw)["details.principal"] == "Unknown field."


@pytest.mark.parametrize("bad_type", ["mortgage", "Credit", "", ["credit"], 7])
def test_unknown_type_lists_the_known_ones(bad_type: object) -> None:
    raw = valid_account("credit", type=bad_type)
    assert errors_of(raw) == {
        "type": "Must be one of: credit, loan, checking, savings, investment."
    }


def test_missing_type_is_refused() -> None:
    raw = valid_account("credit")
    del raw["type"]
    assert errors_of(raw) == {"type": "Missing data for required field."}


def test_routing_number_checksum_accepts_real_routing_numbers() -> None:
    for number in ["121000248", "021000021", "031176110", "124003116", "322271627"]:
        schema.load(valid_account("checking", details__routingNumber=number))


def test_only_a_synced_account_may_leave_a_detail_unknown() -> None:
    unknown_apr = valid_account("credit", details__apr=None)
    with pytest.raises(ValidationError) as refused:
        schema.load(unknown_apr)
    assert flatten_messages(refused.value.messages) == [("details.apr", "Field may not be null.")]
    synced = schema.load({**unknown_apr, "connectionId": "c1", "externalId": "x1"})
    assert synced.details.apr is None
    assert schema.dump(synced)["details"]["apr"] is None
    # Every detail is still named, known or not.
    missing = valid_account("credit", connectionId="c1")
    del missing["details"]["apr"]
    with pytest.raises(ValidationError, match="Missing data"):
        schema.load(missing)


@given(
    st.lists(
        st.builds(
            ConvertedTotal,
            currency=st.sampled_from(["USD", "JPY"]),
            assets=st.decimals(allow_nan=False, allow_infinity=False, places=2),
            liabilities=st.decimals(allow_nan=False, allow_infinity=False, places=2),
            missing_rates=st.lists(st.sampled_from(["EUR", "GBP"]), unique=True).map(tuple),
            rates_of=st.dates(),
        ),
        max_size=5,
    )
)
def test_net_worth_points_are_written_as_their_schema_says(points: list[ConvertedTotal]) -> None:
    series = {"user_id": "u1", "currency": "USD", "interval": Interval.DAY, "points": points}
    written = dumps_bytes(NetWorthSeriesSchema().dump(series))
    assert loads_exact(written)["points"] == NetWorthPointSchema(many=True).dump(points)
    assert dumps_bytes(NetWorthPointSchema(many=True).dump(points)) in written  # byte for byte
