"""A user's provider connections and their sync jobs, independent of HTTP, JSON and storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class ConnectionStatus(StrEnum):
    HEALTHY = "healthy"
    SYNCING = "syncing"
    LOGIN_REQUIRED = "login_required"
    ERROR = "error"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class SyncFailure:
    """Why the last sync failed, in the provider's terms (e.g. ITEM_LOGIN_REQUIRED)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Connection:
    """A user's login at one institution, through one provider, that accounts are synced from."""

    id: str
    provider: str
    institution_id: str
    institution_name: str
    #: The provider's access token, sealed (encrypted) before it reaches any store.
    sealed_token: str
    #: The provider's id for the login (Plaid's item_id): what its webhooks name.
    item_id: str
    status: ConnectionStatus = ConnectionStatus.SYNCING
    last_successful_sync: datetime | None = None
    last_failed_sync: datetime | None = None
    error: SyncFailure | None = None
    #: When the scheduler is to refresh it next; None once it is disconnected.
    next_sync_at: datetime | None = None
    #: When the user's consent to the provider ends (Plaid's PENDING_EXPIRATION); None if never.
    consent_expires_at: datetime | None = None
    #: The provider has accounts of this login that no sync has brought yet.
    new_accounts_available: bool = False
    #: What the login's accounts were when it was linked (app/services/linking.py): a user has
    #: one connection per provider, institution and fingerprint. None: linked before there were.
    fingerprint: str | None = None
    version: int = field(default=0, compare=False)

    def health(self, now: datetime, sync_interval: timedelta | None) -> Health:
        """How it is, said to the user: EXPIRING when it is healthy but its consent ends within
        EXPIRING_WITHIN, and stale when its last good sync is older than two of the schedule's
        intervals (never, without a schedule)."""
        expiring = (
            self.status is ConnectionStatus.HEALTHY
            and self.consent_expires_at is not None
            and self.consent_expires_at - now <= EXPIRING_WITHIN
        )
        stale = (
            sync_interval is not None
            and self.status is not ConnectionStatus.DISCONNECTED
            and self.last_successful_sync is not None
            and now - self.last_successful_sync > 2 * sync_interval
        )
        return Health(EXPIRING if expiring else str(self.status), stale)


#: The status a healthy connection is shown with when its consent ends within EXPIRING_WITHIN.
EXPIRING = "expiring"
EXPIRING_WITHIN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Health:
    #: A ConnectionStatus, or EXPIRING.
    status: str
    stale: bool


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: A job in one of these is still to finish: a connection has at most one such at a time.
UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


@dataclass(frozen=True, slots=True)
class SyncJob:
    """One request to sync a connection, and how it went."""

    id: str
    connection_id: str
    created_at: datetime
    status: JobStatus = JobStatus.QUEUED
    accounts_added: int = 0
    accounts_updated: int = 0
    accounts_closed: int = 0
    error: SyncFailure | None = None
    finished_at: datetime | None = None
    #: Attempts started so far.
    attempts: int = 0
    #: Until when the job is taken: by the worker running it (a lease, so that no two run one
    #: job at once, and a worker that died is replaced once it runs out), or, while queued, by
    #: the queue (past it, the job's message is taken to be lost and the job abandoned).
    lease_until: datetime | None = None
    #: Asked for again while it ran (a notice, a refresh): its provider may have answered before
    #: what was asked for, so another job follows it.
    again: bool = False
    version: int = field(default=0, compare=False)
