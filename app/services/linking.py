"""Linking a user's bank login through a provider, and asking for syncs: a connection has at most
one unfinished job, whoever asks (the user, a webhook or the schedule), and its message goes to
the queue once the job is stored. The credentials the user linked with are handed to the
provider and forgotten; only the access token it gives is kept, sealed."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from app.domain.connections import (
    Connection,
    ConnectionStatus,
    Health,
    JobStatus,
    SyncFailure,
    SyncJob,
)
from app.domain.errors import (
    AlreadyLinked,
    ConnectionDisconnected,
    ConnectionNotFound,
    InvalidData,
    LinkRefused,
    ProviderUnavailable,
    QueueUnavailable,
    SyncJobNotFound,
    UserNotFound,
)
from app.services.accounts import new_id
from app.services.aggregation import (
    Aggregation,
    NothingToDo,
    abandon_job,
    due_at,
    finish_job,
)
from app.services.providers import ProviderError
from app.services.same_login import fingerprint, not_linked_before
from app.services.unit import after_commit


def link(
    aggregation: Aggregation,
    user_id: str,
    provider_name: str,
    institution_id: str,
    credentials: Mapping[str, str],
    now: datetime,
) -> tuple[Connection, SyncJob]:
    """Exchanges the credentials for an access token, keeps the connection (`syncing`) and
    requests its first sync, whose job comes back with it. Raises InvalidData (an unknown
    provider), UserNotFound, LinkRefused or ProviderUnavailable, and then nothing is kept."""
    provider = aggregation.providers.get(provider_name)
    if provider is None:
        known = ", ".join(f"'{name}'" for name in sorted(aggregation.providers)) or "none"
        raise InvalidData([("provider", f"Must be one of the configured providers: {known}.")])
    # No exchange for a user who is not there; theirs, to tell whether the login is one of them.
    linked = aggregation.connections.list_connections(user_id)
    try:
        item = provider.exchange(institution_id, credentials)
    except ProviderError as error:
        raise refused(error) from None
    interval = aggregation.policy.interval
    try:
        not_linked_before(aggregation, user_id, linked, provider_name, item)
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
                fingerprint=fingerprint(item.accounts),
            ),
        )
    except AlreadyLinked:
        with contextlib.suppress(ProviderError):  # kept nowhere: not billed, at best
            provider.remove(item.access_token)
        raise
    # Linked all the same when the queue is down: the schedule sends the first sync once it is
    # back (request_sync leaves the connection due).
    job = request_sync(aggregation, user_id, connection.id, now, refuse_unqueued=False)
    return connection, job


def refused(error: ProviderError) -> LinkRefused | ProviderUnavailable:
    """What a provider's refusal of a login is to the user: a 422 for what they sent, a 503
    (try again) for the provider's own trouble."""
    if error.retryable:
        return ProviderUnavailable(error.code, error.message, error.retry_after)
    return LinkRefused(error.code, error.message)


#: A connection as shown: with how many accounts it brought, and its health.
Shown = tuple[Connection, int, Health]


def connections_of(aggregation: Aggregation, user_id: str, now: datetime) -> list[Shown]:
    """The user's connections, in the order they were linked, each with its account count."""
    found = aggregation.connections.list_connections(user_id)
    counts = _account_counts(aggregation, user_id)
    interval = aggregation.policy.interval
    return [
        (connection, counts[connection.id], connection.health(now, interval))
        for connection in found
    ]


def connection_of(
    aggregation: Aggregation, user_id: str, connection_id: str, now: datetime
) -> Shown:
    connection = aggregation.connections.get_connection(user_id, connection_id)
    health = connection.health(now, aggregation.policy.interval)
    return connection, _account_counts(aggregation, user_id)[connection_id], health


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
    (app/services/unit.py), so that no worker looks for a job that is not there yet."""
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
        abandon_job(connections, user_id, job, now)
        job, new = connections.open_job(user_id, fresh)
    if not new and job.status is JobStatus.RUNNING:
        try:
            job = connections.modify_job(user_id, job.id, _asked_again)
        except (NothingToDo, SyncJobNotFound):  # it ended meanwhile
            job, new = connections.open_job(user_id, fresh)
    if new:
        connections.modify_connection(user_id, connection_id, _syncing)
        after_commit(lambda: _queue(aggregation, user_id, job, now, refuse_unqueued))
    return job


def _asked_again(current: SyncJob) -> SyncJob:
    """A running job, marked to be followed by another; a queued one asks its provider later
    anyway, and an ended one is followed by a new job instead."""
    if current.status is not JobStatus.RUNNING:
        raise NothingToDo()
    return replace(current, again=True)


def _queue(
    aggregation: Aggregation, user_id: str, job: SyncJob, now: datetime, refuse_unqueued: bool
) -> None:
    connections = aggregation.connections
    try:
        aggregation.queue.send(user_id, job.id)
    except QueueUnavailable:
        with contextlib.suppress(UserNotFound, ConnectionNotFound, SyncJobNotFound):
            finish_job(
                connections,
                user_id,
                job.id,
                now,
                error=SyncFailure("QUEUE_UNAVAILABLE", str(QueueUnavailable())),
            )
            # Due at once, so the schedule sends it when the queue is back: a schedule that
            # claimed the connection meanwhile found this job unfinished, took it for its own,
            # and moved the connection's time an interval on.
            connections.modify_connection(user_id, job.connection_id, due_at(now))
        if refuse_unqueued:
            raise


def _syncing(current: Connection) -> Connection:
    if current.status is ConnectionStatus.DISCONNECTED:
        return current
    return replace(current, status=ConnectionStatus.SYNCING)
