"""Exchange rates in this process's memory: by currency, each a list of days in order, so that a
range of days is two bisections away. Filled, when given `initial`, from it at the first read (the
in-memory default start reads the packaged ECB history only if a conversion is asked for)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import date

from app.services.rates import Rate, RateStore


class InMemoryRates(RateStore):
    def __init__(self, initial: Callable[[], Iterable[Rate]] | None = None) -> None:
        self._lock = threading.Lock()
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, dict[date, Rate]] = {}
        self._initial = initial

    def store_rates(self, rates: Iterable[Rate]) -> int:
        with self._lock:
            self._fill()
            return self._store(rates)

    def _fill(self) -> None:
        if self._initial is not None:
            initial, self._initial = self._initial, None
            self._store(initial())

    def _store(self, rates: Iterable[Rate]) -> int:
        given = 0
        for rate in rates:
            by_day = self._rates.setdefault(rate.currency, {})
            if rate.day not in by_day:
                bisect.insort(self._days.setdefault(rate.currency, []), rate.day)
            by_day[rate.day] = rate
            given += 1
        return given

    def rates_between(self, currencies: Collection[str], start: date, end: date) -> list[Rate]:
        found: list[Rate] = []
        with self._lock:
            self._fill()
            for currency in currencies:
                days = self._days.get(currency, [])
                published = days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)]
                found.extend(self._rates[currency][day] for day in published)
        return found
