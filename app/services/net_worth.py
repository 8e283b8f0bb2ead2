"""Net worth over time: on each day of a span, what the user owned less what they owed, in one
currency, with that day's exchange rates.

An account counts on a day as the summary counts it today (app/services/summary.py: its type,
currency, status and `includeInNetWorth` as they are now), with its balance of that day (its
history); today's is its own balance, so that the series always ends on the summary's converted
total. A currency without a rate on a day is named in that day's `missing_rates`, never 1:1.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.services.history import Span, balances_on, with_today
from app.services.rates import DayRates, RateStore
from app.services.repositories import AccountRepository
from app.services.summary import (
    ASSETS,
    LIABILITIES,
    ConvertedTotal,
    converted_total,
    counted_in,
)


def net_worth_series(
    store: AccountRepository,
    rates: RateStore,
    user_id: str,
    span: Span,
    today: date,
    currency: str | None = None,
) -> tuple[str, list[ConvertedTotal]]:
    """The currency (`currency`, else the user's base currency), and the user's net worth in it
    on each day of `span` from the first with a balance."""
    to = currency or store.base_currency(user_id)
    counted = [
        (account, side)
        for account in store.list_accounts(user_id)
        if (side := counted_in(account)) is not None
    ]
    recorded = store.balance_history(user_id, span.start, span.end)
    days = span.days()
    # By side and currency, the sum on each day of the accounts that had a balance by then.
    sums: dict[tuple[str, str], list[Decimal | None]] = {}
    for account, side in counted:
        column = sums.setdefault((side, account.currency), [None] * len(days))
        points = balances_on(with_today(recorded.get(account.id, []), account, today), days)
        for at, (_, balance) in enumerate(points, start=len(days) - len(points)):
            before = column[at]
            column[at] = balance if before is None else before + balance
    # Points begin at the first day any account has a balance (from there on, every day has
    # one): no rates are needed before it.
    first = min((_first(column) for column in sums.values()), default=len(days))
    if first == len(days):
        return to, []
    currencies = {to, *(currency for _, currency in sums)}
    day_rates = DayRates.read(rates, currencies, days[first], span.end)
    series = []
    for at, day in enumerate(days[first:], start=first):
        totals: dict[str, dict[str, Decimal]] = {ASSETS: {}, LIABILITIES: {}}
        for (side, currency), column in sums.items():
            if (total := column[at]) is not None:
                totals[side][currency] = total
        series.append(converted_total(totals[ASSETS], totals[LIABILITIES], to, day, day_rates))
    return to, series


def _first(column: list[Decimal | None]) -> int:
    """Where the first sum of `column` is (its length when it has none)."""
    return next((at for at, total in enumerate(column) if total is not None), len(column))
