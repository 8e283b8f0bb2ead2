"""What an account is, independent of HTTP, JSON and storage: its types and subtypes, its
details per type, a user, and which accounts a list shows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from app.domain.errors import UnknownFilterValues

# Ids appear in URLs and logs, so they are kept to characters that need no escaping anywhere.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
ID_RE = re.compile(ID_PATTERN)  # use with fullmatch
ID_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class AccountType(StrEnum):
    CREDIT = "credit"
    LOAN = "loan"
    CHECKING = "checking"
    SAVINGS = "savings"
    INVESTMENT = "investment"


class AccountStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


#: Each type's subtypes, after Plaid's (its spelling in snake_case), the one an account gets
#: when none is said first. A subtype belongs to one type, but for `hsa`: a cash HSA is savings,
#: an invested one is investment.
SUBTYPES: dict[AccountType, tuple[str, ...]] = {
    AccountType.CREDIT: ("credit_card", "line_of_credit"),
    AccountType.LOAN: ("other", "mortgage", "student", "auto", "personal", "heloc", "business"),
    AccountType.CHECKING: ("checking", "cash_management", "prepaid"),
    AccountType.SAVINGS: ("savings", "cd", "money_market", "hsa"),
    AccountType.INVESTMENT: (
        "brokerage",
        "401k",
        "403b",
        "457b",
        "529",
        "ira",
        "roth",
        "roth_401k",
        "sep_ira",
        "simple_ira",
        "hsa",
        "pension",
        "other",
    ),
}
#: Every subtype of any type, in the order above, each once.
ALL_SUBTYPES: tuple[str, ...] = tuple(dict.fromkeys(s for kind in SUBTYPES.values() for s in kind))
#: Types whose balance is what the user owns; the others' is what they owe.
ASSET_TYPES = frozenset({AccountType.CHECKING, AccountType.SAVINGS, AccountType.INVESTMENT})


# What an account's details say. An account added by hand says all of it; a synced account says
# what its provider told (Plaid's /accounts/get, for one, has no APR, routing number or
# overdraft protection), and None for the rest.


@dataclass(frozen=True, slots=True)
class CreditDetails:
    account_type: ClassVar[AccountType] = AccountType.CREDIT
    credit_limit: Decimal | None
    available_credit: Decimal | None
    #: The purchase APR.
    apr: Decimal | None
    #: When the next payment is due.
    due_date: date | None
    # What is owed and when (Plaid's /liabilities/get): LIABILITY_DETAILS, unknown on any account.
    cash_advance_apr: Decimal | None = None
    balance_transfer_apr: Decimal | None = None
    last_statement_balance: Decimal | None = None
    last_statement_date: date | None = None
    minimum_payment: Decimal | None = None
    last_payment_amount: Decimal | None = None
    last_payment_date: date | None = None
    is_overdue: bool | None = None


@dataclass(frozen=True, slots=True)
class LoanDetails:
    account_type: ClassVar[AccountType] = AccountType.LOAN
    #: What is left to pay.
    principal: Decimal | None
    interest_rate: Decimal | None
    remaining_term_months: int | None
    # What is owed and when (Plaid's /liabilities/get): LIABILITY_DETAILS, unknown on any account.
    origination_date: date | None = None
    origination_principal: Decimal | None = None
    next_payment_due_date: date | None = None
    next_payment_amount: Decimal | None = None
    expected_payoff_date: date | None = None
    #: A mortgage's only.
    escrow_balance: Decimal | None = None
    last_payment_amount: Decimal | None = None
    last_payment_date: date | None = None
    is_overdue: bool | None = None


#: Details that any account may leave unknown (None), not only a synced one: what a statement
#: says is often not at hand when an account is added by hand.
LIABILITY_DETAILS = frozenset(
    {
        "cash_advance_apr",
        "balance_transfer_apr",
        "last_statement_balance",
        "last_statement_date",
        "minimum_payment",
        "last_payment_amount",
        "last_payment_date",
        "is_overdue",
        "origination_date",
        "origination_principal",
        "next_payment_due_date",
        "next_payment_amount",
        "expected_payoff_date",
        "escrow_balance",
    }
)


@dataclass(frozen=True, slots=True)
class CheckingDetails:
    account_type: ClassVar[AccountType] = AccountType.CHECKING
    overdraft_protection: bool | None
    routing_number: str | None


@dataclass(frozen=True, slots=True)
class SavingsDetails:
    account_type: ClassVar[AccountType] = AccountType.SAVINGS
    apy: Decimal | None
    minimum_balance: Decimal | None
    routing_number: str | None


@dataclass(frozen=True, slots=True)
class InvestmentDetails:
    account_type: ClassVar[AccountType] = AccountType.INVESTMENT
    holdings_value: Decimal | None
    cash_balance: Decimal | None


Details = CreditDetails | LoanDetails | CheckingDetails | SavingsDetails | InvestmentDetails

DETAILS_CLASSES: dict[AccountType, type[Details]] = {
    details.account_type: details
    for details in (CreditDetails, LoanDetails, CheckingDetails, SavingsDetails, InvestmentDetails)
}


#: An account's fields that are the user's own, even on a synced account: what they call it, and
#: how the app shows and counts it. A provider says everything else of a synced account.
USER_OWNED = ("nickname", "hidden", "include_in_net_worth")


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    provider: str
    account_name: str
    balance: Decimal
    currency: str
    details: Details
    #: One of SUBTYPES[type]; "" stands for the type's first (see __post_init__).
    subtype: str = ""
    #: The last 2 to 4 characters of the account number, never more; None when unknown.
    mask: str | None = None
    #: The institution's full name for the account, and the user's own for it.
    official_name: str | None = None
    nickname: str | None = None
    #: What can be spent or withdrawn now, where the institution says.
    available_balance: Decimal | None = None
    #: The user's choices, whatever the account's source: hide it from the list the app shows,
    #: and leave it out of net worth.
    hidden: bool = False
    include_in_net_worth: bool = True
    #: A closed account is kept, with its last balance, rather than deleted.
    status: AccountStatus = AccountStatus.OPEN
    #: When the balance was true, as its source says (UTC); None when nobody said.
    balance_as_of: datetime | None = None
    #: The provider connection a sync brought the account from, and the provider's id for it;
    #: both None for an account added by hand.
    connection_id: str | None = None
    external_id: str | None = None
    # Bumped by the repository on every write, for compare-and-set; not part of the account's value,
    # so two accounts with the same fields are equal whatever their history.
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.subtype:
            object.__setattr__(self, "subtype", SUBTYPES[self.type][0])

    @property
    def synced(self) -> bool:
        return self.connection_id is not None

    def resynced(self, news: Account) -> Account:
        """What a sync makes of this account from the provider's `news`: that, under this
        account's id, with the user's own choices kept."""
        return replace(news, id=self.id, **{name: getattr(self, name) for name in USER_OWNED})

    @property
    def type(self) -> AccountType:
        # Derived, not stored, so an account's type and the shape of its details cannot disagree.
        return self.details.account_type


#: The list's filter parameters, each with the values it allows.
FILTER_VALUES: dict[str, tuple[str, ...]] = {
    "type": tuple(AccountType),
    "subtype": ALL_SUBTYPES,
    "status": tuple(AccountStatus),
}


@dataclass(frozen=True)
class AccountFilter:
    """Which of a user's accounts a list shows: within each, any of the values (an empty one
    allows all); across them, all must hold."""

    types: frozenset[AccountType] = frozenset()
    subtypes: frozenset[str] = frozenset()
    statuses: frozenset[AccountStatus] = frozenset()

    @classmethod
    def parse(cls, asked: Mapping[str, Iterable[str]]) -> AccountFilter:
        """The filter the parameters of FILTER_VALUES ask for: each given once or more, each
        value comma-separated, the union of them all. Raises UnknownFilterValues for the first
        parameter that asks for a value it does not allow."""
        chosen: dict[str, frozenset[str]] = {}
        for name, allowed in FILTER_VALUES.items():
            values = [part for value in asked.get(name, ()) for part in value.split(",")]
            unknown = [value for value in values if value not in allowed]
            if unknown:
                raise UnknownFilterValues(name, unknown, allowed)
            chosen[name] = frozenset(values)
        return cls(
            types=frozenset(map(AccountType, chosen["type"])),
            subtypes=chosen["subtype"],
            statuses=frozenset(map(AccountStatus, chosen["status"])),
        )

    def matches(self, account: Account) -> bool:
        return (
            (not self.types or account.type in self.types)
            and (not self.subtypes or account.subtype in self.subtypes)
            and (not self.statuses or account.status in self.statuses)
        )

    def key(self) -> str:
        """The same for every spelling of the same filter (order, repeats), for cache keys."""
        return ";".join(
            ",".join(sorted(map(str, values)))
            for values in (self.types, self.subtypes, self.statuses)
        )


#: The currency a new user's totals are converted into.
DEFAULT_BASE_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    account_count: int
    #: ISO 4217: what the user's net worth is shown in, converted (app/services/rates.py).
    base_currency: str = DEFAULT_BASE_CURRENCY
