"""Exchange rates, and amounts converted with them, exactly.

Rates are the European Central Bank's reference rates: units of a currency per euro, one value
per business day. A day's rate is the latest published on or before it, if at most MAX_AGE old.
Conversion is in Decimal through the euro, rounded once, at the end, to the target currency's
minor units. A currency without a rate is never taken 1:1: it is named as missing, and left out.
"""

from __future__ import annotations

import bisect
import functools
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import get_currency_precision

EURO = "EUR"
ZERO = Decimal(0)
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
    def rates_between(self, currencies: Collection[str], start: date, end: date) -> list[Rate]:
        """The rates of `currencies` published from `start` to `end`, both included."""


class DayRates:
    """The rates of a range of days, read at once: each day's is the latest on or before it,
    if at most MAX_AGE old."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        self._days: dict[str, list[date]] = {}
        self._per_euro: dict[str, list[Decimal]] = {}
        for rate in sorted(rates, key=lambda rate: rate.day):
            self._days.setdefault(rate.currency, []).append(rate.day)
            self._per_euro.setdefault(rate.currency, []).append(rate.per_euro)

    @classmethod
    def read(
        cls, store: RateStore, currencies: Collection[str], start: date, end: date
    ) -> DayRates:
        """What converting `currencies` on any day from `start` to `end` needs, in one read."""
        wanted = set(currencies) - {EURO}
        return cls(store.rates_between(wanted, start - MAX_AGE, end) if wanted else [])

    def of(self, day: date) -> dict[str, Decimal]:
        """Units per euro of each currency on `day` (the euro's own included)."""
        found = {EURO: Decimal(1)}
        for currency, days in self._days.items():
            at = bisect.bisect_right(days, day)
            if at and day - days[at - 1] <= MAX_AGE:
                found[currency] = self._per_euro[currency][at - 1]
        return found


@dataclass(frozen=True)
class Converted:
    currency: str
    #: The sum of the amounts that could be converted, in `currency`'s minor units.
    total: Decimal
    #: The currencies that had no rate on the day (fresh enough), left out of `total`.
    missing: tuple[str, ...]


def convert(amounts: Mapping[str, Decimal], to: str, per_euro: Mapping[str, Decimal]) -> Converted:
    """The amounts (by currency) as one sum in `to`, with one day's rates (DayRates.of); an
    amount of nothing needs no rate."""
    total = amounts.get(to, ZERO)
    in_euros, missing = ZERO, []
    for currency, amount in amounts.items():
        if currency == to or not amount:
            continue
        rate = per_euro.get(currency)
        if rate is None or to not in per_euro:
            missing.append(currency)
        else:
            in_euros += amount / rate
    if in_euros:
        total += in_euros * per_euro[to]
    return Converted(to, rounded(total, to), tuple(sorted(missing)))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` in `currency`'s minor units (cents; none for the yen; mils for the dinar)."""
    return amount.quantize(_minor_unit(currency), ROUND_HALF_EVEN)


@functools.cache
def _minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))
