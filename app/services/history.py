"""Balance history: what a write leaves in an account's history, and the series read from it.

An account's history holds its balance by day (UTC): the latest of a day wins. A write that
changes the balance records it on the day of the balanceAsOf it gives (never after today), else
today; a write that leaves the balance alone records nothing, so a sync delivered twice adds
nothing. The series has a point at `end` and at every interval before it down to `start`, each
the last balance recorded on or before its day; none before the first.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.domain.accounts import Account
from app.domain.errors import BalanceNotFound, InvalidData, ProviderOwned
from app.domain.history import Interval, Point
from app.services.repositories import AccountRepository

#: The most points one series may have (ten years of days).
MAX_POINTS = 3660


def balance_series(
    store: AccountRepository,
    user_id: str,
    account_id: str,
    span: Span,
    today: date,
) -> tuple[Account, list[Point]]:
    """The account, and its balance on each day of `span`."""
    account = store.get_account(user_id, account_id)
    recorded = store.balance_history(user_id, span.start, span.end, account_id)
    return account, balances_on(
        with_today(recorded.get(account_id, []), account, today), span.days()
    )


def with_today(recorded: Sequence[Point], account: Account, today: date) -> list[Point]:
    """The account's history, its own balance being today's (a valuation entered for a day after
    its last write must not stand in for the balance the list shows)."""
    kept = len(recorded)
    while kept and recorded[kept - 1][0] >= today:  # oldest first: only the last can be
        kept -= 1
    return [*recorded[:kept], (today, account.balance)]


def record_valuation(
    store: AccountRepository,
    user_id: str,
    account_id: str,
    day: date,
    balance: Decimal,
    today: date,
) -> None:
    """A past balance of an account entered by hand (a valuation). Today's is the account's own
    balance (a write changes it), so that the history's today is always the list's."""
    _entered_by_hand(store.get_account(user_id, account_id))
    if day >= today:
        raise InvalidData(
            [("date", "Must be a past day: today's balance is the account's own (PATCH it).")]
        )
    store.set_balance(user_id, account_id, day, balance)


def delete_valuation(store: AccountRepository, user_id: str, account_id: str, day: date) -> None:
    _entered_by_hand(store.get_account(user_id, account_id))
    if not store.delete_balance(user_id, account_id, day):
        raise BalanceNotFound(account_id, day.isoformat())


def _entered_by_hand(account: Account) -> None:
    if account.connection_id is not None:
        raise ProviderOwned(account.id, ["balance history"])


def balance_record(before: Account | None, after: Account, today: date) -> Point | None:
    """What writing `after` over `before` (None: a new account) leaves in its history."""
    if before is not None and before.balance == after.balance:
        return None
    given = after.balance_as_of
    if given is None or (before is not None and given == before.balance_as_of):
        return today, after.balance
    return min(given.date(), today), after.balance


@dataclass(frozen=True)
class Span:
    """The days a series has a point on: `end`, and every `interval` before it down to `start`."""

    start: date
    end: date
    interval: Interval

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InvalidData([("from", "Must be on or before `to`.")])
        if self.point_count() > MAX_POINTS:
            raise InvalidData(
                [("interval", f"More than {MAX_POINTS} points: ask a shorter range or interval.")]
            )

    def point_count(self) -> int:
        """How many days the span has (at most)."""
        start, end = self.start, self.end
        if self.interval is Interval.MONTH:
            return (end.year - start.year) * 12 + end.month - start.month + 1
        return (end - start).days // (7 if self.interval is Interval.WEEK else 1) + 1

    def days(self) -> list[date]:
        """Oldest first."""
        days = []
        day, back = self.end, 0
        while day >= self.start:
            days.append(day)
            back += 1
            try:
                day = _before(self.end, self.interval, back)
            except (ValueError, OverflowError):  # before the first day there is
                break
        return days[::-1]


def balances_on(recorded: Sequence[Point], days: Sequence[date]) -> list[Point]:
    """The balance of `recorded` (oldest first) on each of `days` (in order): the last recorded
    on or before it; a day before the first record has none."""
    points, at = [], 0
    balance: Decimal | None = None
    for day in days:
        while at < len(recorded) and recorded[at][0] <= day:
            balance = recorded[at][1]
            at += 1
        if balance is not None:
            points.append((day, balance))
    return points


def _before(end: date, interval: Interval, steps: int) -> date:
    if interval is Interval.DAY:
        return end - timedelta(days=steps)
    if interval is Interval.WEEK:
        return end - timedelta(weeks=steps)
    months = end.year * 12 + end.month - 1 - steps
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(end.day, last))
