"""Exchange rates, and amounts converted with them, exactly.

Rates are the European Central Bank's reference rates: units of a currency per euro, one value
per business day. A day's rate is the latest published on or before it, if at most MAX_AGE old.
Conversion is in Decimal through the euro, rounded once, at the end, to the target currency's
minor units. A currency without a rate is never taken 1:1: it is named as missing, and left out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import get_currency_precision

EURO = "EUR"
#: Older than this, a rate is taken to be missing (the ECB publishes every business day).
MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class Rate:
    day: date
    currency: str
    #: Units of `currency` one euro buys.
    per_euro: Decimal


class RateStore(ABC):
    """Where rates are kept: every store of accounts keeps them too."""

    @abstractmethod
    def store_rates(self, rates: Iterable[Rate]) -> int:
        """Adds the rates, replacing any of the same currency and day; how many were given."""

    @abstractmethod
    def latest_rates(self, currencies: Collection[str], day: date) -> dict[str, Rate]:
        """For each of `currencies` that has one, its latest rate on or before `day`."""


@dataclass(frozen=True)
class Converted:
    currency: str
    #: The sum of the amounts that could be converted, in `currency`'s minor units.
    total: Decimal
    #: The currencies that had no rate on the day (fresh enough), left out of `total`.
    missing: tuple[str, ...]


def convert(amounts: Mapping[str, Decimal], to: str, day: date, rates: RateStore) -> Converted:
    """The amounts (by currency) as one sum in `to`, with the rates of `day`."""
    others = {currency: amount for currency, amount in amounts.items() if currency != to}
    wanted = {currency for currency in [*others, to] if currency != EURO}
    found = {
        currency: rate.per_euro
        for currency, rate in rates.latest_rates(wanted, day).items()
        if day - rate.day <= MAX_AGE
    }
    found[EURO] = Decimal(1)
    convertible = {currency: amount for currency, amount in others.items() if currency in found}
    missing = tuple(sorted(set(others) - set(convertible) if to in found else others))
    total = amounts.get(to, Decimal(0))
    if to in found:
        in_euros = sum(
            (amount / found[currency] for currency, amount in convertible.items()), Decimal(0)
        )
        total += in_euros * found[to]
    return Converted(to, rounded(total, to), missing)


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` in `currency`'s minor units (cents; none for the yen; mils for the dinar)."""
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_HALF_EVEN)
