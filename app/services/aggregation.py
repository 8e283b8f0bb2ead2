"""Everything syncing needs (the wiring gives it), how an attempt went, and the record kept of
it on the connection and the job, shared by linking, running jobs, the schedule and notices.

The access token a provider gives at link time is the only credential kept, sealed by a `Seal`
(app/adapters/sealing.py), and what a sync tells is stored on the connection so that it always
shows its status honestly: `syncing` while attempts go on, `login_required` when only the user can
help, `error` once there is no more to try, `healthy` after a sync that went through,
`disconnected` once the provider says the user revoked it.
"""

from __future__ import annotations

import contextlib
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.domain.connections import (
    UNFINISHED,
    Connection,
    ConnectionStatus,
    JobStatus,
    SyncFailure,
    SyncJob,
)
from app.domain.errors import SyncJobNotFound
from app.services.providers import ProviderAdapter, ProviderError
from app.services.queue import JobQueue
from app.services.repositories import AccountRepository, ConnectionRepository, SyncOutcome


class UnreadableToken(Exception):
    """A sealed token that does not open: sealed under another key, or damaged."""


class Seal(ABC):
    """Seals providers' access tokens at rest (app/adapters/sealing.py)."""

    @abstractmethod
    def seal(self, token: str) -> str: ...

    @abstractmethod
    def unseal(self, sealed: str) -> str:
        """Raises UnreadableToken when `sealed` was not sealed under this seal's key."""


@dataclass(frozen=True)
class SyncPolicy:
    #: How often each connection is refreshed by the schedule; None for never.
    interval: timedelta | None
    #: Attempts a job gets for failures that may pass (a provider down or rate limiting).
    max_attempts: int
    #: The first retry waits up to `retry_base` seconds, each next one up to twice as long, never
    #: more than `retry_cap`.
    retry_base: float
    retry_cap: float
    #: How long a running attempt holds its job; a worker that died is replaced after it.
    lease: timedelta
    #: How long a job may wait in the queue before its message is taken to be lost.
    queued_timeout: timedelta
    #: How long finished jobs are kept (a connection's latest always is): app/services/retention.py.
    jobs_kept: timedelta = timedelta(days=14)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after the `attempt`th failed: exponential, with full jitter (so that
        jobs that failed together do not come back together), never sooner than the provider's
        Retry-After."""
        ceiling = min(self.retry_cap, self.retry_base * 2 ** (attempt - 1))
        return max(random.uniform(0, ceiling), retry_after or 0.0)  # noqa: S311  # nosec B311


@dataclass(frozen=True)
class Aggregation:
    """Everything syncing needs, from the wiring (app/wiring.py)."""

    accounts: AccountRepository
    connections: ConnectionRepository
    providers: Mapping[str, ProviderAdapter]
    seal: Seal
    queue: JobQueue
    policy: SyncPolicy
    #: The most accounts one user may hold; a sync that would pass it fails, storing nothing.
    max_accounts: int | None = None


@dataclass(frozen=True)
class Attempt:
    """How one run of a job went, for the queue: `retry_in` seconds when it is to run again."""

    #: succeeded, failed (for good, e.g. login required), retrying, gave_up (out of attempts),
    #: busy (another worker holds it), or skipped (finished already, or gone).
    outcome: str
    retry_in: float | None = None
    #: Seconds since the connection's last successful sync, as the attempt started; None when
    #: it never had one (or the attempt did not start).
    staleness: float | None = None


class NothingToDo(Exception):
    """Nothing to do: the job finished already (or the connection is not due)."""


def record_sync(
    connections: ConnectionRepository,
    user_id: str,
    connection_id: str,
    status: ConnectionStatus,
    now: datetime,
    error: ProviderError | None,
    next_sync_at: datetime | None,
    *,
    began_with: Connection | None = None,
) -> Connection:
    """The connection after a sync (or its failure). `began_with` is the connection as the
    sync found it before asking its provider: new accounts noticed since then may be more than
    the provider's answer held, so only a notice it began with is answered."""

    def outcome(current: Connection) -> Connection:
        if current.status is ConnectionStatus.DISCONNECTED:
            return current  # only linking again brings it back
        if error is None:
            answered = began_with is not None and began_with.new_accounts_available
            return replace(
                current,
                status=status,
                last_successful_sync=now,
                error=None,
                next_sync_at=next_sync_at or current.next_sync_at,
                new_accounts_available=current.new_accounts_available and not answered,
            )
        return replace(
            current,
            status=status,
            last_failed_sync=now,
            error=SyncFailure(error.code, error.message),
        )

    return connections.modify_connection(user_id, connection_id, outcome)


def finish_job(
    connections: ConnectionRepository,
    user_id: str,
    job_id: str,
    now: datetime,
    *,
    outcome: SyncOutcome | None = None,
    error: SyncFailure | None = None,
) -> SyncJob:
    def finished(current: SyncJob) -> SyncJob:
        counts = outcome or SyncOutcome(0, 0, 0)
        return replace(
            current,
            status=JobStatus.FAILED if error else JobStatus.SUCCEEDED,
            accounts_added=counts.added,
            accounts_updated=counts.updated,
            accounts_closed=counts.closed,
            error=error,
            finished_at=now,
            lease_until=None,
        )

    return connections.modify_job(user_id, job_id, finished)


def abandon_job(
    connections: ConnectionRepository, user_id: str, job: SyncJob, now: datetime
) -> None:
    """Fails a job whose message was lost (its lease ran out), unless it moved on meanwhile."""

    def abandoned(current: SyncJob) -> SyncJob:
        if current.status not in UNFINISHED or current.lease_until != job.lease_until:
            raise NothingToDo()
        return replace(
            current,
            status=JobStatus.FAILED,
            error=SyncFailure("ABANDONED", "the job's message was lost; a new job took its place"),
            finished_at=now,
            lease_until=None,
        )

    with contextlib.suppress(NothingToDo, SyncJobNotFound):
        connections.modify_job(user_id, job.id, abandoned)


def due_at(next_sync_at: datetime | None) -> Callable[[Connection], Connection]:
    return lambda current: replace(current, next_sync_at=next_sync_at)
