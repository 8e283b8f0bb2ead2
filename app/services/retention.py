"""Retention: rows that grow with time removed once they have outlived their use.

Finished sync jobs are kept `jobs_kept` (a connection's latest always), idempotency keys and
webhook deliveries until they expire. The schedule prunes (app/adapters/queue/running.py) in
batches of BATCH_ROWS, each its own short transaction, and at most BATCHES_PER_PASS per pass, so
that pruning never holds locks or the database for long; on PostgreSQL one process at a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.services.repositories import StoreAdministration

BATCH_ROWS = 500
BATCHES_PER_PASS = 20


def prune(store: StoreAdministration, now: datetime, jobs_kept: timedelta) -> int:
    """One pass: how many rows it removed."""
    removed = 0
    for _ in range(BATCHES_PER_PASS):
        batch = store.prune(now, now - jobs_kept, BATCH_ROWS)
        removed += batch
        if batch == 0:
            break
    return removed
