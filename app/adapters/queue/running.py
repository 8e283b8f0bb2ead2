"""What every job runner shares: one measured attempt, and the schedule's loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from app.adapters.metrics import (
    CONNECTIONS_STALE,
    SYNC_DURATION,
    SYNC_JOBS,
    SYNC_QUEUE_DEPTH,
    SYNC_STALENESS,
)
from app.domain.errors import StorageUnavailable
from app.services import retention, schedule, sync_jobs
from app.services.aggregation import Aggregation, Attempt
from app.services.repositories import StoreAdministration

log = logging.getLogger(__name__)

#: How often the schedule prunes (app/services/retention.py).
PRUNE_EVERY_SECONDS = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def attempt(aggregation: Aggregation, user_id: str, job_id: str) -> Attempt:
    """One attempt at the job, counted and timed, its lease renewed while it runs."""
    started = time.perf_counter()
    tried = sync_jobs.run_job(aggregation, user_id, job_id, utcnow(), beating)
    SYNC_DURATION.observe(time.perf_counter() - started)
    SYNC_JOBS.labels(tried.outcome).inc()
    if tried.staleness is not None:
        SYNC_STALENESS.observe(tried.staleness)
    log.info(
        "sync job %s of user %s: %s%s",
        job_id,
        user_id,
        tried.outcome,
        f", again in {tried.retry_in:.1f} s" if tried.retry_in is not None else "",
    )
    return tried


@contextmanager
def beating(beat: Callable[[datetime], None], seconds: float) -> Iterator[None]:
    """Calls `beat(now)` every `seconds` on a thread of its own until the block ends."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(seconds):
            try:
                beat(utcnow())
            except StorageUnavailable:
                log.warning("sync: could not renew a job's lease; trying again in %s s", seconds)

    thread = threading.Thread(target=run, name="sync-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class Scheduler:
    """Every `tick` seconds: requests the syncs that are due, and notes the queue's depth; every
    PRUNE_EVERY_SECONDS, prunes what has outlived its use from `store`, makes balance history's
    months ahead and notes how many connections are stale; and when given `refresh_rates`, calls
    it every `rates_every` seconds (a minute after one that failed)."""

    def __init__(
        self,
        aggregation: Aggregation,
        tick: float,
        store: StoreAdministration,
        refresh_rates: Callable[[], int] | None = None,
        rates_every: float = 3600.0,
    ) -> None:
        self._aggregation = aggregation
        self._tick = tick
        self._store = store
        self._pruned_at: float | None = None
        self._refresh_rates = refresh_rates
        self._rates_every = rates_every
        self._rates_due = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.run_once()
            except Exception:
                # The schedule must outlive any one pass: a pass that failed is tried next tick.
                log.exception("schedule: a pass failed; trying again in %s s", self._tick)

    def run_once(self) -> None:
        try:
            requested = schedule.schedule_due(self._aggregation, utcnow())
        except StorageUnavailable:
            log.warning("schedule: the store is unavailable; trying again in %s s", self._tick)
            return
        if requested:
            log.info("schedule: requested %d syncs", requested)
        depth = self._aggregation.queue.depth()
        if depth is not None:
            SYNC_QUEUE_DEPTH.labels("waiting").set(depth)
        if self._pruned_at is None or time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            self.prune()
            self.count_stale()
        if self._refresh_rates is not None and time.monotonic() >= self._rates_due:
            self.refresh_rates()

    def count_stale(self) -> None:
        """Notes how many connections are stale (`accounts_connections_stale`): a count over
        every connection, so once a pruning pass rather than every tick."""
        interval = self._aggregation.policy.interval
        if interval is None:
            return
        try:
            stale = self._aggregation.connections.count_stale(utcnow() - 2 * interval)
        except StorageUnavailable:
            log.warning("schedule: the store is unavailable; counting stale connections later")
            return
        CONNECTIONS_STALE.set(stale)

    def refresh_rates(self) -> None:
        """Loads the rates now (when given `refresh_rates`), and says when to next."""
        if self._refresh_rates is None:
            return
        try:
            loaded = self._refresh_rates()
        except (ValueError, StorageUnavailable) as error:  # RatesFileError is a ValueError
            log.warning("rates: not refreshed (%s); trying again in a minute", error)
            self._rates_due = time.monotonic() + 60
            return
        log.info("rates: %d loaded", loaded)
        self._rates_due = time.monotonic() + self._rates_every

    def prune(self) -> None:
        now = utcnow()
        try:
            removed = retention.prune(self._store, now, self._aggregation.policy.jobs_kept)
            made = retention.make_history_room(self._store, now.date())
        except StorageUnavailable:
            log.warning("retention: the store is unavailable; pruning at the next pass")
            return
        if removed:
            log.info("retention: removed %d finished jobs, expired keys and deliveries", removed)
        if made:
            log.info("retention: made balance history's months %s", ", ".join(made))
