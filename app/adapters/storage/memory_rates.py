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
        grown: set[str] = set()  # currencies given a day they had not
        for rate in rates:
            by_day = self._rates.setdefault(rate.currency, {})
            if rate.day not in by_day:
                self._days.setdefault(rate.currency, []).append(rate.day)
                grown.add(rate.currency)
            by_day[rate.day] = rate
            given += 1
        # Sorted once at the end: the ECB's history comes newest first, where an insort per day
        # moves every day already there (quadratic: 0.27 s of the packaged history's 0.36 s).
        for currency in grown:
            self._days[currency].sort()
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
