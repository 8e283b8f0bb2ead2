"""The domain's own rules, with no I/O: the list filter, read the one way both doors read it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.accounts import (
    Account,
    AccountFilter,
    AccountStatus,
    AccountType,
    CheckingDetails,
    CreditDetails,
    Details,
    InvestmentDetails,
    LoanDetails,
    SavingsDetails,
)
from app.domain.errors import UnknownFilterValues


def test_a_filter_is_the_union_of_every_form_of_each_parameter() -> None:
    asked = AccountFilter.parse({"type": ["credit,loan", "loan"], "status": ["open"]})
    assert asked == AccountFilter(
        types=frozenset({AccountType.CREDIT, AccountType.LOAN}),
        statuses=frozenset({AccountStatus.OPEN}),
    )
    assert AccountFilter.parse({}) == AccountFilter()
    assert asked.key() == AccountFilter.parse({"type": ["loan,credit"], "status": ["open"]}).key()


@pytest.mark.parametrize(
    ("asked", "name", "unknown"),
    [
        ({"type": ["credit,mortgage"]}, "type", ("mortgage",)),
        ({"subtype": ["roth_ira", ""]}, "subtype", ("roth_ira", "")),
        ({"status": ["gone"], "type": ["nope"]}, "type", ("nope",)),
    ],
)
def test_unknown_values_are_refused_by_name_with_the_allowed_ones(
    asked: dict[str, list[str]], name: str, unknown: tuple[str, ...]
) -> None:
    with pytest.raises(UnknownFilterValues) as refused:
        AccountFilter.parse(asked)
    assert (refused.value.name, refused.value.unknown) == (name, unknown)
    assert "credit" in refused.value.allowed or name != "type"


@pytest.mark.parametrize(
    ("kind", "first"),
    [
        ("credit", "credit_card"),
        ("loan", "other"),
        ("checking", "checking"),
        ("savings", "savings"),
        ("investment", "brokerage"),
    ],
)
def test_an_account_without_a_subtype_takes_its_type_s_first(kind: str, first: str) -> None:
    made = account_of(kind)
    assert made.subtype == first  # as docs/accounts.md lists them: the first is the default
    assert account_of(kind, subtype=first).subtype == first


def account_of(kind: str, subtype: str = "") -> Account:
    details: dict[AccountType, Details] = {
        AccountType.CREDIT: CreditDetails(None, None, None, None),
        AccountType.LOAN: LoanDetails(None, None, None),
        AccountType.CHECKING: CheckingDetails(None, None),
        AccountType.SAVINGS: SavingsDetails(None, None, None),
        AccountType.INVESTMENT: InvestmentDetails(None, None),
    }
    return Account(
        id="a1",
        provider="Bank",
        account_name="An account",
        balance=Decimal(1),
        currency="USD",
        details=details[AccountType(kind)],
        subtype=subtype,
    )
