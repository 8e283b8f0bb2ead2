"""Running a sync job, attempt after attempt, as the queue delivers it: an attempt holds the job
under a lease (renewed while it runs, so a dead worker's job is taken over once one lease has
passed), asks the provider, stores what it says, and decides whether to try again, with
exponential backoff and full jitter, until it succeeds, fails for good, or runs out of attempts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from app.domain.connections import (
    UNFINISHED,
    Connection,
    ConnectionStatus,
    JobStatus,
    SyncFailure,
    SyncJob,
)
from app.domain.errors import (
    ConnectionDisconnected,
    ConnectionNotFound,
    SyncJobNotFound,
    TooManyAccounts,
    UserNotFound,
)
from app.services.accounts import new_id
from app.services.aggregation import (
    Aggregation,
    Attempt,
    NothingToDo,
    SyncPolicy,
    UnreadableToken,
    finish_job,
    record_sync,
)
from app.services.linking import request_sync
from app.services.providers import LoginRequired, ProviderError
from app.services.repositories import ConnectionRepository, SyncOutcome
from app.services.sync import store_sync

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
    except (UserNotFound, SyncJobNotFound, NothingToDo):
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
            raise NothingToDo()
        return replace(current, lease_until=now + policy.lease)

    with contextlib.suppress(NothingToDo, SyncJobNotFound, UserNotFound):
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
                    again=False,  # its next attempt asks the provider anew
                    lease_until=now + timedelta(seconds=delay) + policy.queued_timeout,
                ),
            )
            return Attempt("retrying", delay, staleness)
        finish_job(connections, user_id, job_id, now, error=failure)
        if not error.retryable:
            return Attempt("failed", None, staleness)
        record_sync(
            connections, user_id, job.connection_id, ConnectionStatus.ERROR, now, error, None
        )
        return Attempt("gave_up", None, staleness)
    if finish_job(connections, user_id, job_id, now, outcome=outcome).again:
        # Asked for while this attempt ran, perhaps after its provider had answered.
        with contextlib.suppress(UserNotFound, ConnectionNotFound, ConnectionDisconnected):
            request_sync(aggregation, user_id, job.connection_id, now, refuse_unqueued=False)
    return Attempt("succeeded", None, staleness)


class _Busy(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds


def _claim(job: SyncJob, now: datetime, policy: SyncPolicy) -> SyncJob:
    if job.status not in UNFINISHED:
        raise NothingToDo()
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
        except UnreadableToken:
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
        record_sync(connections, user_id, connection_id, status, now, error, None)
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
        record_sync(
            connections, user_id, connection_id, ConnectionStatus.ERROR, now, too_many, None
        )
        raise too_many from None
    interval = aggregation.policy.interval
    record_sync(
        connections,
        user_id,
        connection_id,
        ConnectionStatus.HEALTHY,
        now,
        None,
        None if interval is None else now + interval,
        began_with=connection,
    )
    return outcome
