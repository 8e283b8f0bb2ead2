"""Net worth over time: on each day of a span, what the user owned less what they owed, in one
currency, with that day's exchange rates.

An account counts on a day as the summary counts it today (app/services/summary.py: its type,
currency, status and `includeInNetWorth` as they are now), with its balance of that day (its
history); today's is its own balance, so that the series always ends on the summary's converted
total. A currency without a rate on a day is named in that day's `missing_rates`, never 1:1.
"""

from __future__ import annotations

from collections import defaultdict
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
    totals: dict[date, dict[str, defaultdict[str, Decimal]]] = {}
    for account, side in counted:
        history = with_today(recorded.get(account.id, []), account, today)
        for day, balance in balances_on(history, days):
            sides = totals.setdefault(
                day, {ASSETS: defaultdict(Decimal), LIABILITIES: defaultdict(Decimal)}
            )
            sides[side][account.currency] += balance
    currencies = {to, *(account.currency for account, _ in counted)}
    day_rates = DayRates.read(rates, currencies, span.start, span.end)
    return to, [
        converted_total(sides[ASSETS], sides[LIABILITIES], to, day, day_rates)
        for day, sides in sorted(totals.items())
    ]
