"""The domain's own rules, with no I/O: the list filter, read the one way both doors read it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

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
from app.domain.connections import Connection, ConnectionStatus, Health
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


NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def connection(**changes: Any) -> Connection:
    found = Connection("c1", "sandbox", "ins_1", "Bank", "sealed", "item-1")
    usual = {"status": ConnectionStatus.HEALTHY, "last_successful_sync": NOW}
    return replace(found, **{**usual, **changes})


@pytest.mark.parametrize(
    ("changes", "interval", "expected"),
    [
        ({}, HOUR, Health("healthy", False)),
        # Consent ending within 7 days (the boundary included) shows as expiring.
        ({"consent_expires_at": NOW + timedelta(days=7)}, HOUR, Health("expiring", False)),
        (
            {"consent_expires_at": NOW + timedelta(days=7, seconds=1)},
            HOUR,
            Health("healthy", False),
        ),
        # Only a healthy one: a broken login says so first.
        (
            {"consent_expires_at": NOW, "status": ConnectionStatus.LOGIN_REQUIRED},
            HOUR,
            Health("login_required", False),
        ),
        # Stale past two intervals, not at them; never without a schedule, nor once revoked.
        ({"last_successful_sync": NOW - 2 * HOUR}, HOUR, Health("healthy", False)),
        (
            {"last_successful_sync": NOW - 2 * HOUR - timedelta(seconds=1)},
            HOUR,
            Health("healthy", True),
        ),
        ({"last_successful_sync": NOW - 100 * HOUR}, None, Health("healthy", False)),
        (
            {"last_successful_sync": NOW - 100 * HOUR, "status": ConnectionStatus.DISCONNECTED},
            HOUR,
            Health("disconnected", False),
        ),
        (
            {"last_successful_sync": None, "status": ConnectionStatus.SYNCING},
            HOUR,
            Health("syncing", False),
        ),
    ],
)
def test_a_connection_s_health(
    changes: dict[str, Any], interval: timedelta | None, expected: Health
) -> None:
    assert connection(**changes).health(NOW, interval) == expected
