"""Net worth: what a user owns less what they owe, per currency, never added across currencies.

Checking, savings and investment balances are assets (an overdrawn checking account is a
negative asset, not a liability); credit and loan balances are liabilities (what is owed; a card
paid beyond its balance owes less than nothing). Closed accounts, and those the user leaves out
(`includeInNetWorth: false`), count nowhere but in how many were left out. Sums are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from app.domain.accounts import ASSET_TYPES, Account, AccountStatus, AccountType
from app.services.accounts import revision_and_accounts
from app.services.cache import CachedBody, CacheKey, ResponseCache
from app.services.rates import DayRates, RateStore, convert
from app.services.repositories import AccountRepository

#: The cache holds a summary beside the user's lists, under a filter no list can have.
SUMMARY_KEY = "summary"
ASSETS, LIABILITIES = "assets", "liabilities"


@dataclass(frozen=True)
class TypeTotal:
    count: int = 0
    total: Decimal = Decimal(0)


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    assets: Decimal
    liabilities: Decimal
    by_type: dict[AccountType, TypeTotal]
    #: Accounts in this currency that count nowhere: closed, or left out by the user (open).
    closed: int
    left_out: int

    @property
    def net_worth(self) -> Decimal:
        return self.assets - self.liabilities


@dataclass
class _Running:
    by_type: dict[AccountType, TypeTotal] = field(
        default_factory=lambda: {kind: TypeTotal() for kind in AccountType}
    )
    closed: int = 0
    left_out: int = 0


def counted_in(account: Account) -> str | None:
    """Where the account counts: ASSETS, LIABILITIES, or None (closed, or left out)."""
    if account.status is AccountStatus.CLOSED or not account.include_in_net_worth:
        return None
    return ASSETS if account.type in ASSET_TYPES else LIABILITIES


def summarize(accounts: Iterable[Account]) -> list[CurrencySummary]:
    """Per currency, in alphabetical order."""
    running: dict[str, _Running] = {}
    for account in accounts:
        tally = running.setdefault(account.currency, _Running())
        if counted_in(account) is not None:
            before = tally.by_type[account.type]
            tally.by_type[account.type] = TypeTotal(
                before.count + 1, before.total + account.balance
            )
        elif account.status is AccountStatus.CLOSED:
            tally.closed += 1
        else:
            tally.left_out += 1
    return [
        CurrencySummary(
            currency=currency,
            assets=sum((tally.by_type[kind].total for kind in ASSET_TYPES), Decimal(0)),
            liabilities=sum(
                (total.total for kind, total in tally.by_type.items() if kind not in ASSET_TYPES),
                Decimal(0),
            ),
            by_type=tally.by_type,
            closed=tally.closed,
            left_out=tally.left_out,
        )
        for currency, tally in sorted(running.items())
    ]


@dataclass(frozen=True)
class ConvertedTotal:
    """Net worth in one currency: every currency's totals converted with one day's rates."""

    currency: str
    assets: Decimal
    liabilities: Decimal
    #: Currencies with no rate that day, left out of the totals (never taken 1:1).
    missing_rates: tuple[str, ...]
    rates_of: date

    @property
    def net_worth(self) -> Decimal:
        return self.assets - self.liabilities


def converted_total(
    assets: Mapping[str, Decimal],
    liabilities: Mapping[str, Decimal],
    to: str,
    day: date,
    rates: DayRates,
) -> ConvertedTotal:
    """Totals by currency as one, in `to`, with the rates of `day`."""
    per_euro = rates.of(day)
    owned, owed = convert(assets, to, per_euro), convert(liabilities, to, per_euro)
    missing = tuple(sorted({*owned.missing, *owed.missing}))
    return ConvertedTotal(to, owned.total, owed.total, missing, day)


def converted_summary(
    currencies: Sequence[CurrencySummary], to: str, day: date, store: RateStore
) -> ConvertedTotal:
    """The summary's per-currency totals as one, in `to`, with the rates of `day`."""
    rates = DayRates.read(store, [to, *(found.currency for found in currencies)], day, day)
    assets = {found.currency: found.assets for found in currencies}
    liabilities = {found.currency: found.liabilities for found in currencies}
    return converted_total(assets, liabilities, to, day, rates)


def cached_summary(
    repository: AccountRepository,
    cache: ResponseCache,
    user_id: str,
    render: Callable[[list[CurrencySummary]], CachedBody],
) -> CachedBody:
    """The rendered summary, cached and made stale exactly as the user's lists are (a write
    moves the revision it is keyed by)."""
    revision, accounts = revision_and_accounts(repository, user_id)
    return cache.fetch(
        CacheKey(user_id, SUMMARY_KEY, revision), lambda: render(summarize(accounts()))
    )
