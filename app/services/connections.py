"""Connections: linking a user's bank login through a provider, and keeping its accounts synced.

The access token a provider gives at link time is the only credential kept, sealed
(app/sealing.py); the credentials the user linked with are handed to the provider and forgotten.

A sync is a job: requested (by the user, a webhook or the schedule), queued, then run by
run_job, attempt after attempt, until it succeeds, fails for good, or runs out of attempts. A
connection has at most one unfinished job, whoever asks, and a job is run by one worker at a time
(it holds a lease while it runs). Each attempt records what happened on the connection, so that
it always shows its status honestly: `syncing` while attempts go on, `login_required` when only
the user can help, `error` once there is no more to try, `healthy` after a sync that went
through, `disconnected` once the provider says the user revoked it.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from app.domain import (
    UNFINISHED,
    Connection,
    ConnectionDisconnected,
    ConnectionNotFound,
    ConnectionStatus,
    InvalidData,
    JobStatus,
    LinkRefused,
    ProviderUnavailable,
    QueueUnavailable,
    SyncFailure,
    SyncJob,
    SyncJobNotFound,
    TooManyAccounts,
    UserNotFound,
)
from app.jobs.base import JobQueue
from app.providers.base import LoginRequired, ProviderAdapter, ProviderError
from app.repositories.base import AccountRepository, ConnectionRepository, SyncOutcome
from app.repositories.unit import after_commit
from app.sealing import InvalidToken, TokenSeal
from app.services.accounts import new_id
from app.services.sync import store_sync


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
    seal: TokenSeal
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


def link(
    aggregation: Aggregation,
    user_id: str,
    provider_name: str,
    institution_id: str,
    credentials: Mapping[str, str],
    now: datetime,
) -> Connection:
    """Exchanges the credentials for an access token, keeps the connection (`syncing`) and
    requests its first sync. Raises InvalidData (an unknown provider), UserNotFound, LinkRefused
    or ProviderUnavailable, and then nothing is kept."""
    provider = aggregation.providers.get(provider_name)
    if provider is None:
        known = ", ".join(f"'{name}'" for name in sorted(aggregation.providers)) or "none"
        raise InvalidData([("provider", f"Must be one of the configured providers: {known}.")])
    aggregation.connections.list_connections(user_id)  # no exchange for a user who is not there
    try:
        item = provider.exchange(institution_id, credentials)
    except ProviderError as error:
        if error.retryable:
            raise ProviderUnavailable(error.code, error.message, error.retry_after) from None
        raise LinkRefused(error.code, error.message) from None
    interval = aggregation.policy.interval
    connection = aggregation.connections.add_connection(
        user_id,
        Connection(
            id=new_id("conn"),
            provider=provider_name,
            institution_id=item.institution_id,
            institution_name=item.institution_name,
            sealed_token=aggregation.seal.seal(item.access_token),
            item_id=item.item_id,
            next_sync_at=None if interval is None else now + interval,
        ),
    )
    # Linked all the same when the queue is down: the schedule sends the first sync once it is
    # back (request_sync leaves the connection due).
    request_sync(aggregation, user_id, connection.id, now, refuse_unqueued=False)
    return connection


def connections_of(aggregation: Aggregation, user_id: str) -> list[tuple[Connection, int]]:
    """The user's connections, in the order they were linked, each with its account count."""
    found = aggregation.connections.list_connections(user_id)
    counts = _account_counts(aggregation, user_id)
    return [(connection, counts[connection.id]) for connection in found]


def connection_of(
    aggregation: Aggregation, user_id: str, connection_id: str
) -> tuple[Connection, int]:
    connection = aggregation.connections.get_connection(user_id, connection_id)
    return connection, _account_counts(aggregation, user_id)[connection_id]


def _account_counts(aggregation: Aggregation, user_id: str) -> Counter[str | None]:
    return Counter(account.connection_id for account in aggregation.accounts.list_accounts(user_id))


def request_sync(
    aggregation: Aggregation,
    user_id: str,
    connection_id: str,
    now: datetime,
    *,
    refuse_unqueued: bool = True,
) -> SyncJob:
    """The connection's unfinished job, or a new one, queued. Raises UserNotFound,
    ConnectionNotFound, ConnectionDisconnected, or QueueUnavailable when the queue refuses a new
    job (which is then failed, its connection left due) unless told not to (`refuse_unqueued`).

    A new job's message goes once the job is stored: inside a unit of work, once it commits
    (app/repositories/unit.py), so that no worker looks for a job that is not there yet."""
    connections = aggregation.connections
    connection = connections.get_connection(user_id, connection_id)
    if connection.status is ConnectionStatus.DISCONNECTED:
        raise ConnectionDisconnected(connection_id)
    fresh = SyncJob(
        new_id("job"),
        connection_id,
        created_at=now,
        lease_until=now + aggregation.policy.queued_timeout,
    )
    job, new = connections.open_job(user_id, fresh)
    if not new and job.lease_until is not None and job.lease_until < now:
        _abandon(connections, user_id, job, now)
        job, new = connections.open_job(user_id, fresh)
    if new:
        connections.modify_connection(user_id, connection_id, _syncing)
        after_commit(lambda: _queue(aggregation, user_id, job, now, refuse_unqueued))
    return job


def _queue(
    aggregation: Aggregation, user_id: str, job: SyncJob, now: datetime, refuse_unqueued: bool
) -> None:
    connections = aggregation.connections
    try:
        aggregation.queue.send(user_id, job.id)
    except QueueUnavailable:
        with contextlib.suppress(UserNotFound, ConnectionNotFound, SyncJobNotFound):
            _finish(
                connections,
                user_id,
                job.id,
                now,
                error=SyncFailure("QUEUE_UNAVAILABLE", str(QueueUnavailable())),
            )
            # Due at once, so the schedule sends it when the queue is back: a schedule that
            # claimed the connection meanwhile found this job unfinished, took it for its own,
            # and moved the connection's time an interval on.
            connections.modify_connection(user_id, job.connection_id, _put_back(now))
        if refuse_unqueued:
            raise


def _syncing(current: Connection) -> Connection:
    if current.status is ConnectionStatus.DISCONNECTED:
        return current
    return replace(current, status=ConnectionStatus.SYNCING)


#: Calls `beat` with the time every `seconds` while the block it guards runs (the runner has
#: the threads for it): `run_job` beats to renew its lease, so that a long attempt keeps its job
#: and a dead worker's job is taken over once one lease has passed.
Heartbeat = Callable[[Callable[[datetime], None], float], AbstractContextManager[None]]


def _no_heartbeat(beat: Callable[[datetime], None], seconds: float) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


def run_job(
    aggregation: Aggregation,
    user_id: str,
    job_id: str,
    now: datetime,
    heartbeat: Heartbeat = _no_heartbeat,
) -> Attempt:
    """One attempt at the job, as the queue delivered it (perhaps again: it is idempotent)."""
    connections, policy = aggregation.connections, aggregation.policy
    try:
        job = connections.modify_job(user_id, job_id, lambda current: _claim(current, now, policy))
    except (UserNotFound, SyncJobNotFound, _Finished):
        return Attempt("skipped")
    except _Busy as busy:
        return Attempt("busy", busy.seconds)
    renewing = partial(_renew, connections, user_id, job, policy)
    with heartbeat(renewing, policy.lease.total_seconds() / 3):
        return _attempt(aggregation, user_id, job, now)


def _renew(
    connections: ConnectionRepository,
    user_id: str,
    job: SyncJob,
    policy: SyncPolicy,
    now: datetime,
) -> None:
    """The lease of this attempt at `job`, a lease from `now`, unless it ended or was taken
    over."""

    def renewed(current: SyncJob) -> SyncJob:
        if current.status is not JobStatus.RUNNING or current.attempts != job.attempts:
            raise _Finished()
        return replace(current, lease_until=now + policy.lease)

    with contextlib.suppress(_Finished, SyncJobNotFound, UserNotFound):
        connections.modify_job(user_id, job.id, renewed)


def _attempt(aggregation: Aggregation, user_id: str, job: SyncJob, now: datetime) -> Attempt:
    connections, policy, job_id = aggregation.connections, aggregation.policy, job.id
    try:
        connection = connections.get_connection(user_id, job.connection_id)
        last = connection.last_successful_sync
        staleness = None if last is None else (now - last).total_seconds()
        outcome = _sync(aggregation, user_id, connection, now)
    except (UserNotFound, ConnectionNotFound):
        return Attempt("skipped")  # deleted meanwhile, with its jobs
    except ProviderError as error:
        failure = SyncFailure(error.code, error.message)
        if error.retryable and job.attempts < policy.max_attempts:
            delay = policy.backoff(job.attempts, error.retry_after)
            connections.modify_job(
                user_id,
                job_id,
                lambda current: replace(
                    current,
                    status=JobStatus.QUEUED,
                    error=failure,
                    lease_until=now + timedelta(seconds=delay) + policy.queued_timeout,
                ),
            )
            return Attempt("retrying", delay, staleness)
        _finish(connections, user_id, job_id, now, error=failure)
        if not error.retryable:
            return Attempt("failed", None, staleness)
        _record(connections, user_id, job.connection_id, ConnectionStatus.ERROR, now, error, None)
        return Attempt("gave_up", None, staleness)
    _finish(connections, user_id, job_id, now, outcome=outcome)
    return Attempt("succeeded", None, staleness)


def schedule_due(aggregation: Aggregation, now: datetime, limit: int = 100) -> int:
    """Requests a sync of each connection whose scheduled time has come; how many it requested.

    Safe on any number of hosts at once: a connection is claimed (its next time moved on) in one
    write before its sync is requested, and a claim that finds the time already moved is dropped.
    """
    interval = aggregation.policy.interval
    if interval is None:
        return 0
    connections = aggregation.connections
    requested = 0
    for user_id, due in connections.due_connections(now, limit):

        def claim(current: Connection) -> Connection:
            if current.next_sync_at is None or current.next_sync_at > now:
                raise _Finished()
            return replace(current, next_sync_at=now + interval)

        try:
            connections.modify_connection(user_id, due.id, claim)
            request_sync(aggregation, user_id, due.id, now)
        except (_Finished, UserNotFound, ConnectionNotFound, ConnectionDisconnected):
            continue
        except QueueUnavailable:
            # It keeps its place in line, and the rest wait for the next pass: the queue is down.
            connections.modify_connection(user_id, due.id, _put_back(due.next_sync_at))
            break
        requested += 1
    return requested


def _put_back(next_sync_at: datetime | None) -> Callable[[Connection], Connection]:
    return lambda current: replace(current, next_sync_at=next_sync_at)


def notice(
    aggregation: Aggregation, provider_name: str, item_id: str, code: str, now: datetime
) -> str:
    """Acts on a provider's (verified) webhook about an item; says what it did."""
    found = aggregation.connections.find_connection(provider_name, item_id)
    if found is None:
        return "ignored"  # not linked here, or deleted since
    user_id, connection = found
    if code in LOGIN_REQUIRED_CODES:
        error = LoginRequired("the provider says the user must log in again")
        _record(
            aggregation.connections,
            user_id,
            connection.id,
            ConnectionStatus.LOGIN_REQUIRED,
            now,
            error,
            None,
        )
        return "login_required"
    if code in REVOKED_CODES:
        aggregation.connections.modify_connection(
            user_id,
            connection.id,
            lambda current: replace(
                current,
                status=ConnectionStatus.DISCONNECTED,
                next_sync_at=None,
                error=SyncFailure(code, "the user revoked access at the provider"),
            ),
        )
        return "disconnected"
    if code in NEW_DATA_CODES:
        try:
            request_sync(aggregation, user_id, connection.id, now)
        except ConnectionDisconnected:
            return "ignored"
        return "refresh"
    return "ignored"


#: Plaid's webhook codes, by what they mean here.
NEW_DATA_CODES = frozenset({"DEFAULT_UPDATE", "NEW_ACCOUNTS_AVAILABLE", "SYNC_UPDATES_AVAILABLE"})
LOGIN_REQUIRED_CODES = frozenset({"ITEM_LOGIN_REQUIRED", "PENDING_DISCONNECT"})
REVOKED_CODES = frozenset({"USER_PERMISSION_REVOKED", "USER_ACCOUNT_REVOKED"})


class _Finished(Exception):
    """Nothing to do: the job finished already (or the connection is not due)."""


class _Busy(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds


def _claim(job: SyncJob, now: datetime, policy: SyncPolicy) -> SyncJob:
    if job.status not in UNFINISHED:
        raise _Finished()
    if job.status is JobStatus.RUNNING and job.lease_until is not None and job.lease_until > now:
        raise _Busy((job.lease_until - now).total_seconds())
    return replace(
        job, status=JobStatus.RUNNING, attempts=job.attempts + 1, lease_until=now + policy.lease
    )


def _sync(
    aggregation: Aggregation, user_id: str, connection: Connection, now: datetime
) -> SyncOutcome:
    connections, connection_id = aggregation.connections, connection.id
    try:
        provider = aggregation.providers.get(connection.provider)
        if provider is None:
            raise ProviderError(
                "PROVIDER_NOT_CONFIGURED",
                f"the provider '{connection.provider}' is not configured here",
                retryable=False,
            )
        try:
            token = aggregation.seal.unseal(connection.sealed_token)
        except InvalidToken:
            raise ProviderError(
                "TOKEN_UNREADABLE",
                "the access token was sealed under another key; link the connection again",
                retryable=False,
            ) from None
        said = provider.accounts(token)
    except ProviderError as error:
        status = (
            ConnectionStatus.LOGIN_REQUIRED
            if isinstance(error, LoginRequired)
            else ConnectionStatus.SYNCING
            if error.retryable
            else ConnectionStatus.ERROR
        )
        _record(connections, user_id, connection_id, status, now, error, None)
        raise
    try:
        outcome = store_sync(
            aggregation.accounts,
            user_id,
            connection_id,
            connection.institution_name,
            said,
            lambda: new_id("acc"),
            aggregation.max_accounts,
        )
    except TooManyAccounts as refused:
        too_many = ProviderError("TOO_MANY_ACCOUNTS", str(refused), retryable=False)
        _record(connections, user_id, connection_id, ConnectionStatus.ERROR, now, too_many, None)
        raise too_many from None
    interval = aggregation.policy.interval
    _record(
        connections,
        user_id,
        connection_id,
        ConnectionStatus.HEALTHY,
        now,
        None,
        None if interval is None else now + interval,
    )
    return outcome


def _record(
    connections: ConnectionRepository,
    user_id: str,
    connection_id: str,
    status: ConnectionStatus,
    now: datetime,
    error: ProviderError | None,
    next_sync_at: datetime | None,
) -> Connection:
    def outcome(current: Connection) -> Connection:
        if current.status is ConnectionStatus.DISCONNECTED:
            return current  # only linking again brings it back
        if error is None:
            return replace(
                current,
                status=status,
                last_successful_sync=now,
                error=None,
                next_sync_at=next_sync_at or current.next_sync_at,
            )
        return replace(
            current,
            status=status,
            last_failed_sync=now,
            error=SyncFailure(error.code, error.message),
        )

    return connections.modify_connection(user_id, connection_id, outcome)


def _finish(
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


def _abandon(connections: ConnectionRepository, user_id: str, job: SyncJob, now: datetime) -> None:
    """Fails a job whose message was lost (its lease ran out), unless it moved on meanwhile."""

    def abandoned(current: SyncJob) -> SyncJob:
        if current.status not in UNFINISHED or current.lease_until != job.lease_until:
            raise _Finished()
        return replace(
            current,
            status=JobStatus.FAILED,
            error=SyncFailure("ABANDONED", "the job's message was lost; a new job took its place"),
            finished_at=now,
            lease_until=None,
        )

    with contextlib.suppress(_Finished, SyncJobNotFound):
        connections.modify_job(user_id, job.id, abandoned)
