"""Retention: rows that grow with time removed once they have outlived their use.

Finished sync jobs are kept `jobs_kept` (a connection's latest always), idempotency keys and
webhook deliveries until they expire. The schedule prunes (app/adapters/queue/running.py) in
batches of BATCH_ROWS, each its own short transaction, and at most BATCHES_PER_PASS per pass, so
that pruning never holds locks or the database for long; on PostgreSQL one process at a time.
Each pass also makes balance history's months ahead where it is kept by month (PostgreSQL).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from app.services.repositories import StoreAdministration

BATCH_ROWS = 500
BATCHES_PER_PASS = 20
#: Months of balance history made ahead of this one.
HISTORY_MONTHS_AHEAD = 3


def prune(store: StoreAdministration, now: datetime, jobs_kept: timedelta) -> int:
    """One pass: how many rows it removed."""
    removed = 0
    for _ in range(BATCHES_PER_PASS):
        batch = store.prune(now, now - jobs_kept, BATCH_ROWS)
        removed += batch
        if batch == 0:
            break
    return removed


def make_history_room(
    store: StoreAdministration, today: date, since: date | None = None
) -> list[str]:
    """Makes balance history's months from `since`'s (else this one) through
    HISTORY_MONTHS_AHEAD on, where it is kept by month; the names of those it made."""
    ahead = today + timedelta(days=31 * HISTORY_MONTHS_AHEAD)
    return store.make_history_months(since or today, ahead)
