"""An item's accounts and liabilities as the sandbox reports them: as of a past day, and with a
liability's dates given as days from today made dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.entrypoints.provider_sandbox.state import PAST_GROWTH


def as_of(account: dict[str, Any], day: date | None) -> dict[str, Any]:
    """The account as reported on `day` (None: as it is)."""
    if day is None:
        return account
    balances = dict(account["balances"])
    reported = balances.get("last_updated_datetime")
    now = datetime.fromisoformat(reported).date() if reported else datetime.now(UTC).date()
    share = 1 - PAST_GROWTH * (now - day).days / 365
    for key in ("available", "current"):
        if balances.get(key) is not None:
            balances[key] = (Decimal(balances[key]) * share).quantize(Decimal("0.01"))
    balances["last_updated_datetime"] = f"{day.isoformat()}T12:00:00+00:00"
    return {**account, "balances": balances}


def dated(liability: dict[str, Any]) -> dict[str, Any]:
    """`liability` with each date given as a number of days from today made a date."""
    today = datetime.now(UTC).date()
    return {
        key: (today + timedelta(days=value)).isoformat()
        if key.endswith("_date") and isinstance(value, int)
        else value
        for key, value in liability.items()
    }
