"""What every provider adapter offers, in the provider's own terms, and how it fails.

Shaped after Plaid (an "item" is one login at one institution; /accounts/get answers each account
with its balances), which FDX and the other aggregators resemble closely enough.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class AccountIdentity:
    """What tells one of a login's accounts from another, as a link shows it (Plaid Link's
    metadata): its mask and name, and the provider's persistent id where it has one."""

    mask: str | None
    name: str
    persistent_id: str | None = None


@dataclass(frozen=True)
class LinkedItem:
    """A login at an institution, as linked: the token to read it with, what it is, and its
    accounts."""

    access_token: str
    item_id: str
    institution_id: str
    institution_name: str
    accounts: tuple[AccountIdentity, ...] = ()


@dataclass(frozen=True)
class Balances:
    available: Decimal | None
    current: Decimal | None
    limit: Decimal | None
    currency: str | None
    #: When the institution last said so; None when the provider does not know.
    as_of: datetime | None


@dataclass(frozen=True)
class Liability:
    """What a card's or a loan's statement says is owed and when (Plaid's /liabilities/get);
    None for what the provider does not say."""

    purchase_apr: Decimal | None = None
    cash_advance_apr: Decimal | None = None
    balance_transfer_apr: Decimal | None = None
    interest_rate: Decimal | None = None
    last_statement_balance: Decimal | None = None
    last_statement_date: date | None = None
    minimum_payment: Decimal | None = None
    next_payment_due_date: date | None = None
    next_payment_amount: Decimal | None = None
    is_overdue: bool | None = None
    last_payment_amount: Decimal | None = None
    last_payment_date: date | None = None
    origination_date: date | None = None
    origination_principal: Decimal | None = None
    expected_payoff_date: date | None = None
    escrow_balance: Decimal | None = None


@dataclass(frozen=True)
class ProviderAccount:
    """One account as the provider describes it (its types and subtypes, not ours)."""

    external_id: str
    name: str
    official_name: str | None
    mask: str | None
    type: str
    subtype: str | None
    balances: Balances
    #: A card's or loan's, where the provider says.
    liability: Liability | None = None


class ProviderError(Exception):
    """The provider refused or failed. `retryable` says whether the same call may succeed later,
    after `retry_after` seconds when the provider said so."""

    def __init__(
        self, code: str, message: str, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class LoginRequired(ProviderError):
    """The user must log in at the institution again; retrying cannot help."""

    def __init__(self, message: str) -> None:
        super().__init__("ITEM_LOGIN_REQUIRED", message, retryable=False)


class ProviderAdapter(ABC):
    @abstractmethod
    def exchange(self, institution_id: str, credentials: Mapping[str, str]) -> LinkedItem:
        """Trades what the user's link step produced for a lasting access token."""

    def remove(self, access_token: str) -> None:  # noqa: B027 (a provider that bills nothing)
        """Lets go of an item this service will not keep (Plaid's /item/remove): a login linked
        twice is not billed twice."""

    def repair(self, access_token: str, credentials: Mapping[str, str]) -> None:
        """Logs the item in again with the user's new credentials (Plaid's update mode): the
        same item and access token from then on. A provider without it refuses."""
        raise ProviderError("UPDATE_MODE_UNSUPPORTED", "link the login again", retryable=False)

    @abstractmethod
    def accounts(self, access_token: str) -> list[ProviderAccount]:
        """Every account of the item, with its balances, and what its cards and loans owe."""

    def close(self) -> None:  # noqa: B027 (an adapter without connections holds nothing)
        """Releases pooled connections."""
