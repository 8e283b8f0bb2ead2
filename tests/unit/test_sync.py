"""The sync rules over the in-memory store: a provider's accounts, mapped into ours and stored."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.adapters.exact_json import dumps_bytes
from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.accounts import (
    AccountStatus,
    AccountType,
    CheckingDetails,
    CreditDetails,
    InvestmentDetails,
    SavingsDetails,
)
from app.domain.connections import Connection
from app.schemas.accounts import AccountSchema
from app.services.providers import Balances, ProviderAccount
from app.services.repositories import SyncOutcome
from app.services.sync import account_type, store_sync, subtype, to_account

AS_OF = datetime(2026, 11, 25, 8, tzinfo=UTC)


def provided(
    external_id: str,
    kind: str,
    subtype: str | None,
    current: str | None = "100.25",
    available: str | None = None,
    limit: str | None = None,
    currency: str | None = "USD",
) -> ProviderAccount:
    def amount(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return ProviderAccount(
        external_id=external_id,
        name=f"{subtype or kind} account",
        official_name=None,
        mask="0000",
        type=kind,
        subtype=subtype,
        balances=Balances(amount(available), amount(current), amount(limit), currency, AS_OF),
    )


@pytest.mark.parametrize(
    ("kind", "subtype", "ours"),
    [
        ("depository", "checking", AccountType.CHECKING),
        ("depository", "prepaid", AccountType.CHECKING),
        ("depository", "savings", AccountType.SAVINGS),
        ("depository", "cd", AccountType.SAVINGS),
        ("depository", "money market", AccountType.SAVINGS),
        ("credit", "credit card", AccountType.CREDIT),
        ("loan", "mortgage", AccountType.LOAN),
        ("loan", "student", AccountType.LOAN),
        ("investment", "401k", AccountType.INVESTMENT),
        ("other", "other", None),
    ],
)
def test_each_provider_type_becomes_one_of_ours(
    kind: str, subtype: str, ours: AccountType | None
) -> None:
    assert account_type(provided("x", kind, subtype)) == ours


@pytest.mark.parametrize(
    ("kind", "provider_subtype", "ours"),
    [
        (AccountType.CHECKING, "checking", "checking"),
        (AccountType.CHECKING, "cash management", "cash_management"),
        (AccountType.CHECKING, "ebt", "prepaid"),
        (AccountType.CHECKING, None, "checking"),
        (AccountType.SAVINGS, "money market", "money_market"),
        (AccountType.SAVINGS, "hsa", "hsa"),
        (AccountType.CREDIT, "credit card", "credit_card"),
        (AccountType.CREDIT, "paypal", "credit_card"),
        (AccountType.LOAN, "mortgage", "mortgage"),
        (AccountType.LOAN, "home equity", "heloc"),
        (AccountType.LOAN, "construction", "business"),
        (AccountType.LOAN, "overdraft", "other"),
        (AccountType.INVESTMENT, "roth 401k", "roth_401k"),
        (AccountType.INVESTMENT, "Roth", "roth"),
        (AccountType.INVESTMENT, "variable annuity", "other"),
    ],
)
def test_each_provider_subtype_becomes_one_of_ours(
    kind: AccountType, provider_subtype: str | None, ours: str
) -> None:
    assert subtype(kind, provider_subtype) == ours


def test_what_the_provider_does_not_say_stays_unknown() -> None:
    card = to_account(
        provided("c", "credit", "credit card", "410.25", limit="2000"), "k", "Bank", "a"
    )
    assert card is not None
    assert card.details == CreditDetails(Decimal(2000), Decimal("1589.75"), None, None)
    assert (card.balance, card.balance_as_of, card.status) == (
        Decimal("410.25"),
        AS_OF,
        AccountStatus.OPEN,
    )
    over = to_account(provided("o", "credit", None, "2100", limit="2000"), "k", "Bank", "a")
    assert over is not None
    assert over.details == CreditDetails(Decimal(2000), Decimal(0), None, None)
    roth = to_account(provided("r", "investment", "roth", "320.76"), "k", "Bank", "a")
    assert roth is not None
    assert roth.details == InvestmentDetails(Decimal("320.76"), None)
    assert (roth.subtype, roth.mask, roth.available_balance) == ("roth", "0000", None)
    saving = to_account(provided("s", "depository", "savings"), "k", "Bank", "a")
    assert saving is not None
    assert saving.details == SavingsDetails(None, None, None)
    checking = to_account(provided("h", "depository", "checking", "-12.5"), "k", "Bank", "a")
    assert checking is not None
    assert (checking.details, checking.balance) == (CheckingDetails(None, None), Decimal("-12.5"))
    # Nothing to show: no type of ours, no balance, or no currency.
    assert to_account(provided("x", "other", None), "k", "Bank", "a") is None
    assert to_account(provided("x", "loan", "auto", current=None), "k", "Bank", "a") is None
    assert to_account(provided("x", "loan", "auto", currency=None), "k", "Bank", "a") is None


def test_a_stored_sync_is_listed_and_answered_with_nulls_for_the_unknown() -> None:
    repository = InMemoryAccountRepository({"u1": []})
    repository.add_connection("u1", Connection("conn1", "sandbox", "ins_1", "Bank", "sealed", "i1"))
    numbers = itertools.count(1)
    said = [
        provided("p-check", "depository", "checking", "1250.17", available="1203.42"),
        provided("p-card", "credit", "credit card", "410.25", limit="2000"),
        provided("p-other", "other", None),
    ]
    outcome = store_sync(
        repository, "u1", "conn1", "First Platypus Bank", said, lambda: f"acc-{next(numbers)}"
    )
    assert outcome == SyncOutcome(2, 0, 0)
    listed = repository.list_accounts("u1")
    assert [(found.id, found.external_id, found.type) for found in listed] == [
        ("acc-1", "p-check", AccountType.CHECKING),
        ("acc-2", "p-card", AccountType.CREDIT),
    ]
    assert (listed[0].available_balance, listed[0].mask) == (Decimal("1203.42"), "0000")
    answered = dumps_bytes(AccountSchema().dump(listed[1]))
    assert answered == (
        b'{"id":"acc-2","type":"credit","subtype":"credit_card","provider":"First Platypus Bank",'
        b'"accountName":"credit card account","officialName":null,"nickname":null,'
        b'"mask":"0000","balance":410.25,"availableBalance":null,"currency":"USD",'
        b'"status":"open","balanceAsOf":"2026-11-25T08:00:00+00:00",'
        b'"connectionId":"conn1","externalId":"p-card","hidden":false,'
        b'"includeInNetWorth":true,"details":{"creditLimit":2000,'
        b'"availableCredit":1589.75,"apr":null,"dueDate":null}}'
    )
    # The same news again: nothing changes.
    again = store_sync(repository, "u1", "conn1", "First Platypus Bank", said, lambda: "unused")
    assert again == SyncOutcome(0, 0, 0)


@pytest.mark.parametrize(
    ("said", "kept"),
    [("0000", "0000"), ("4111111111111111", "1111"), ("•• 42", "42"), ("7", None), (None, None)],
)
def test_a_mask_is_never_more_than_the_last_four(said: str | None, kept: str | None) -> None:
    found = provided("m", "depository", "checking")
    account = to_account(
        ProviderAccount(
            found.external_id, found.name, None, said, found.type, found.subtype, found.balances
        ),
        "k",
        "Bank",
        "a",
    )
    assert account is not None
    assert account.mask == kept
