"""Balance history in this process's memory (app/services/history.py): by user, account and day,
kept by the in-memory store under its own lock, as its accounts change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from app.domain.accounts import Account
from app.domain.history import Point
from app.services.history import balance_record


class InMemoryHistory:
    """Not thread-safe by itself: the store calls it under its lock."""

    def __init__(self) -> None:
        self._days: dict[str, dict[str, dict[date, Decimal]]] = {}

    def changed(
        self, user_id: str, before: Mapping[str, Account], after: Mapping[str, Account]
    ) -> None:
        """Records what the write from `before` to `after` (a user's accounts) leaves, and
        forgets the accounts that went."""
        today = datetime.now(UTC).date()
        kept = self._days.setdefault(user_id, {})
        for gone in before.keys() - after.keys():
            kept.pop(gone, None)
        for account_id, account in after.items():
            record = balance_record(before.get(account_id), account, today)
            if record is not None:
                kept.setdefault(account_id, {})[record[0]] = record[1]

    def forget(self, user_id: str | None = None) -> None:
        """Forgets the user's history, or everyone's."""
        if user_id is None:
            self._days.clear()
        else:
            self._days.pop(user_id, None)

    def points(
        self, user_id: str, start: date, end: date, account_id: str | None
    ) -> dict[str, list[Point]]:
        accounts = self._days.get(user_id, {})
        chosen = accounts if account_id is None else {account_id: accounts.get(account_id, {})}
        found = {}
        for chosen_id, days in chosen.items():
            recorded = sorted((day, balance) for day, balance in days.items() if day <= end)
            before = sum(1 for day, _ in recorded if day <= start)
            if recorded:
                found[chosen_id] = recorded[max(before - 1, 0) :]
        return found

    def set(self, user_id: str, account_id: str, day: date, balance: Decimal) -> None:
        self._days.setdefault(user_id, {}).setdefault(account_id, {})[day] = balance

    def delete(self, user_id: str, account_id: str, day: date) -> bool:
        return self._days.get(user_id, {}).get(account_id, {}).pop(day, None) is not None

    def merge(self, user_id: str, taken_id: str, into_id: str) -> None:
        """`into_id` takes `taken_id`'s balances of the days it has none of."""
        kept = self._days.setdefault(user_id, {})
        into = kept.setdefault(into_id, {})
        for day, balance in kept.get(taken_id, {}).items():
            into.setdefault(day, balance)
