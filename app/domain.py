"""What an account is, independent of HTTP, JSON and storage.

Every other layer imports from here; this module imports from none of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

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
    apr: Decimal | None
    due_date: date | None


@dataclass(frozen=True, slots=True)
class LoanDetails:
    account_type: ClassVar[AccountType] = AccountType.LOAN
    principal: Decimal | None
    interest_rate: Decimal | None
    remaining_term_months: int | None


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


@dataclass(frozen=True)
class AccountFilter:
    """Which of a user's accounts a list shows: within each, any of the values (an empty one
    allows all); across them, all must hold."""

    types: frozenset[AccountType] = frozenset()
    subtypes: frozenset[str] = frozenset()
    statuses: frozenset[AccountStatus] = frozenset()

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


class ConnectionStatus(StrEnum):
    HEALTHY = "healthy"
    SYNCING = "syncing"
    LOGIN_REQUIRED = "login_required"
    ERROR = "error"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class SyncFailure:
    """Why the last sync failed, in the provider's terms (e.g. ITEM_LOGIN_REQUIRED)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Connection:
    """A user's login at one institution, through one provider, that accounts are synced from."""

    id: str
    provider: str
    institution_id: str
    institution_name: str
    #: The provider's access token, sealed (encrypted) before it reaches any store.
    sealed_token: str
    #: The provider's id for the login (Plaid's item_id): what its webhooks name.
    item_id: str
    status: ConnectionStatus = ConnectionStatus.SYNCING
    last_successful_sync: datetime | None = None
    last_failed_sync: datetime | None = None
    error: SyncFailure | None = None
    #: When the scheduler is to refresh it next; None once it is disconnected.
    next_sync_at: datetime | None = None
    version: int = field(default=0, compare=False)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: A job in one of these is still to finish: a connection has at most one such at a time.
UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


@dataclass(frozen=True, slots=True)
class SyncJob:
    """One request to sync a connection, and how it went."""

    id: str
    connection_id: str
    created_at: datetime
    status: JobStatus = JobStatus.QUEUED
    accounts_added: int = 0
    accounts_updated: int = 0
    accounts_closed: int = 0
    error: SyncFailure | None = None
    finished_at: datetime | None = None
    #: Attempts started so far.
    attempts: int = 0
    #: Until when the job is taken: by the worker running it (a lease, so that no two run one
    #: job at once, and a worker that died is replaced once it runs out), or, while queued, by
    #: the queue (past it, the job's message is taken to be lost and the job abandoned).
    lease_until: datetime | None = None
    version: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    account_count: int


class DomainError(Exception):
    """A request that the business rules refuse; the HTTP layer maps each subclass to a status."""


class UserNotFound(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"No user with id '{user_id}'.")
        self.user_id = user_id


class AccountNotFound(DomainError):
    def __init__(self, user_id: str, account_id: str) -> None:
        super().__init__(f"User '{user_id}' has no account with id '{account_id}'.")
        self.user_id = user_id
        self.account_id = account_id


class UserExists(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"A user with id '{user_id}' already exists.")
        self.user_id = user_id


class ConnectionNotFound(DomainError):
    def __init__(self, user_id: str, connection_id: str) -> None:
        super().__init__(f"User '{user_id}' has no connection with id '{connection_id}'.")
        self.user_id = user_id
        self.connection_id = connection_id


class SyncJobNotFound(DomainError):
    def __init__(self, user_id: str, job_id: str) -> None:
        super().__init__(f"User '{user_id}' has no sync job with id '{job_id}'.")
        self.user_id = user_id
        self.job_id = job_id


class AccountExists(DomainError):
    def __init__(self, user_id: str, account_id: str) -> None:
        super().__init__(f"User '{user_id}' already has an account with id '{account_id}'.")
        self.user_id = user_id
        self.account_id = account_id


class VersionConflict(DomainError):
    """The account changed since the version the caller read: its update would overwrite another."""

    def __init__(self, user_id: str, account_id: str) -> None:
        super().__init__(
            f"Account '{account_id}' of user '{user_id}' has changed since it was read; "
            "read it again and retry."
        )
        self.user_id = user_id
        self.account_id = account_id


class InvalidData(DomainError):
    """Data the rules refuse; `errors` pairs the path of each bad field (such as `details.apr`,
    or "" for the data as a whole) with what is wrong with it."""

    def __init__(self, errors: list[tuple[str, str]], message: str | None = None) -> None:
        fields = ", ".join(field or "(the body)" for field, _ in errors)
        super().__init__(message or f"Invalid: {fields}.")
        self.errors = errors


class TypeChangeNeedsPut(InvalidData):
    """A patch may not change an account's type: another type has other details, every one of
    which must then be given, which is a replacement."""

    def __init__(self, account_id: str, account_type: AccountType) -> None:
        super().__init__(
            [("type", f"Must stay '{account_type}' in a PATCH.")],
            f"PATCH cannot change the type of account '{account_id}'; "
            "PUT a complete account of the new type instead.",
        )


class ProviderOwned(DomainError):
    """A write that would change what only a sync may change: the link of any account to its
    provider, and everything the provider says about a synced account."""

    def __init__(self, account_id: str, fields: list[str]) -> None:
        super().__init__(
            f"Account '{account_id}': {', '.join(fields)} "
            f"{'is' if len(fields) == 1 else 'are'} set by its provider's syncs, not by a write."
        )
        self.fields = fields


class TooManyAccounts(DomainError):
    """The user holds the most accounts one may: none is added until one is deleted."""

    def __init__(self, user_id: str, limit: int) -> None:
        super().__init__(
            f"User '{user_id}' holds {limit} accounts, the most one may; delete one first."
        )
        self.limit = limit


class StorageUnavailable(DomainError):
    """The store cannot be reached right now; the same request may well succeed in a moment."""

    def __init__(self) -> None:
        super().__init__("The account store is unavailable right now; retry shortly.")


class QueueUnavailable(DomainError):
    """The job queue (the broker) cannot take a job right now; nothing was queued."""

    def __init__(self) -> None:
        super().__init__("The sync queue is unavailable right now; retry shortly.")


class ConnectionDisconnected(DomainError):
    """The provider says the user revoked the connection: it cannot sync until linked again."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(
            f"Connection '{connection_id}' was disconnected at the provider; link it again."
        )


class LinkRefused(DomainError):
    """The provider refused to link: the credentials, or the institution, are not good."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"The provider refused the link: {code}: {message}")
        self.code = code


class ProviderUnavailable(DomainError):
    """The provider failed in a way that may pass (down, slow, rate limiting)."""

    def __init__(self, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(f"The provider is unavailable right now: {code}: {message}")
        self.code = code
        self.retry_after = retry_after
