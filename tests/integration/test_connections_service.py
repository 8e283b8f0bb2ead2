"""Linking and syncing as the service layer does it: through the real sandbox over HTTP, into the
in-memory store, with a queue that only records what it was sent (the real queues have their own
tests: tests/unit/test_thread_queue.py, tests/integration/test_broker_queue.py,
tests/e2e/test_aggregation_live.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from cryptography.fernet import Fernet

from app.adapters.providers.sandbox import SandboxProvider
from app.adapters.sealing import TokenSeal
from app.adapters.storage.memory import InMemoryAccountRepository
from app.config import ConfigurationError
from app.domain.accounts import AccountStatus
from app.domain.connections import ConnectionStatus, JobStatus, SyncFailure
from app.domain.errors import (
    AlreadyLinked,
    InvalidData,
    LinkRefused,
    QueueUnavailable,
    UserNotFound,
)
from app.services import linking, notices, schedule, sync_jobs
from app.services.aggregation import Aggregation
from app.services.queue import JobQueue
from tests.samples import POLICY

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOOD = {"username": "user_good", "password": "pass_good"}


class RecordingQueue(JobQueue):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down = False

    def send(self, user_id: str, job_id: str, delay: float = 0.0) -> None:
        if self.down:
            raise QueueUnavailable()
        self.sent.append((user_id, job_id))


@pytest.fixture
def store() -> InMemoryAccountRepository:
    return InMemoryAccountRepository({"u1": [], "u2": []})


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def provider(sandbox_url: str) -> Iterator[SandboxProvider]:
    adapter = SandboxProvider(sandbox_url, read_timeout=1.0)
    yield adapter
    adapter.close()
    fault(sandbox_url, None)


def fault(sandbox_url: str, kind: str | None, **more: object) -> None:
    httpx.post(f"{sandbox_url}/sandbox/admin/fault", json={"kind": kind, **more})


@pytest.fixture
def aggregation(
    store: InMemoryAccountRepository, provider: SandboxProvider, queue: RecordingQueue
) -> Aggregation:
    return Aggregation(
        accounts=store,
        connections=store,
        providers={"sandbox": provider},
        seal=TokenSeal(Fernet.generate_key().decode()),
        queue=queue,
        policy=POLICY,
    )


def test_link_keeps_only_the_sealed_token_queues_a_sync_that_brings_the_accounts(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    assert (linked.status, linked.institution_name) == (
        ConnectionStatus.SYNCING,
        "First Platypus Bank",
    )
    assert "access-sandbox" not in linked.sealed_token  # sealed, not in clear
    assert aggregation.seal.unseal(linked.sealed_token).startswith("access-sandbox-")
    [(user_id, job_id)] = queue.sent
    assert store.get_job(user_id, job_id).status is JobStatus.QUEUED

    assert sync_jobs.run_job(aggregation, "u1", job_id, NOW).outcome == "succeeded"
    job = store.get_job("u1", job_id)
    assert (job.status, job.accounts_added, job.finished_at, job.attempts) == (
        JobStatus.SUCCEEDED,
        4,
        NOW,
        1,
    )
    synced = store.list_accounts("u1")
    assert {account.connection_id for account in synced} == {linked.id}
    assert synced[0].balance == Decimal("1250.17")
    healthy = store.get_connection("u1", linked.id)
    assert (healthy.status, healthy.last_successful_sync, healthy.error) == (
        ConnectionStatus.HEALTHY,
        NOW,
        None,
    )
    assert healthy.next_sync_at == NOW + timedelta(hours=1)
    # Delivered again: nothing to do.
    assert sync_jobs.run_job(aggregation, "u1", job_id, NOW).outcome == "skipped"
    # Synced again: nothing changes.
    again = linking.request_sync(aggregation, "u1", linked.id, NOW)
    sync_jobs.run_job(aggregation, "u1", again.id, NOW)
    assert store.get_job("u1", again.id).accounts_updated == 0
    assert store.list_accounts("u1") == synced


def test_a_refresh_while_one_is_unfinished_is_that_one(
    aggregation: Aggregation, queue: RecordingQueue
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    first = queue.sent[0][1]
    with ThreadPoolExecutor(8) as pool:
        asked = list(
            pool.map(lambda _: linking.request_sync(aggregation, "u1", linked.id, NOW), range(8))
        )
    assert {job.id for job in asked} == {first}
    assert len(queue.sent) == 1


def test_a_login_required_fault_fails_the_job_at_once_and_accounts_stay(
    sandbox_url: str,
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    queue: RecordingQueue,
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    sync_jobs.run_job(aggregation, "u1", queue.sent[0][1], NOW)
    fault(sandbox_url, "login_required")
    later = NOW + timedelta(minutes=5)
    job = linking.request_sync(aggregation, "u1", linked.id, later)
    assert sync_jobs.run_job(aggregation, "u1", job.id, later).outcome == "failed"
    assert store.get_job("u1", job.id).error == SyncFailure(
        "ITEM_LOGIN_REQUIRED", "the login details of this item changed"
    )
    shown = store.get_connection("u1", linked.id)
    assert shown.status is ConnectionStatus.LOGIN_REQUIRED
    assert (shown.last_failed_sync, shown.last_successful_sync) == (later, NOW)
    assert all(account.status is AccountStatus.OPEN for account in store.list_accounts("u1"))


def test_passing_failures_are_retried_with_backoff_then_given_up(
    sandbox_url: str,
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    queue: RecordingQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The jitter pinned to the top of its range: the waits are then the ceilings themselves.
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    job_id = queue.sent[0][1]
    fault(sandbox_url, "server_error")
    waits = []
    for attempt in range(1, POLICY.max_attempts):
        tried = sync_jobs.run_job(aggregation, "u1", job_id, NOW)
        assert tried.outcome == "retrying"
        assert tried.retry_in is not None
        # Full jitter: anywhere up to the doubling ceiling.
        assert 0 <= tried.retry_in <= POLICY.retry_base * 2 ** (attempt - 1)
        waits.append(tried.retry_in)
        assert store.get_job("u1", job_id).status is JobStatus.QUEUED
        assert store.get_connection("u1", linked.id).status is ConnectionStatus.SYNCING
    assert waits == [2.0, 4.0]  # retry_base 2, doubling, for max_attempts 3
    assert sync_jobs.run_job(aggregation, "u1", job_id, NOW).outcome == "gave_up"
    job = store.get_job("u1", job_id)
    failure = SyncFailure("INTERNAL_SERVER_ERROR", "the sandbox failed, as asked")
    assert (job.status, job.error, job.attempts) == (
        JobStatus.FAILED,
        failure,
        POLICY.max_attempts,
    )
    shown = store.get_connection("u1", linked.id)
    assert (shown.status, shown.error) == (ConnectionStatus.ERROR, failure)
    assert store.list_accounts("u1") == []


def test_a_rate_limit_is_waited_out_as_long_as_the_provider_says(
    sandbox_url: str, aggregation: Aggregation, queue: RecordingQueue
) -> None:
    linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    fault(sandbox_url, "rate_limited", seconds=45, times=1)
    tried = sync_jobs.run_job(aggregation, "u1", queue.sent[0][1], NOW)
    assert tried.outcome == "retrying"
    assert tried.retry_in is not None
    assert tried.retry_in >= 45


def test_a_job_runs_on_one_worker_at_a_time_and_a_dead_ones_lease_runs_out(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    job_id = queue.sent[0][1]
    # A worker took the job and died before finishing it: the job is running, under its lease.
    store.modify_job(
        "u1",
        job_id,
        lambda job: replace(job, status=JobStatus.RUNNING, lease_until=NOW + POLICY.lease),
    )
    busy = sync_jobs.run_job(aggregation, "u1", job_id, NOW + timedelta(seconds=10))
    assert (busy.outcome, busy.retry_in) == ("busy", 20.0)
    after = NOW + POLICY.lease + timedelta(seconds=1)
    assert sync_jobs.run_job(aggregation, "u1", job_id, after).outcome == "succeeded"
    assert len(store.list_accounts("u1")) == 4


def test_a_queue_that_is_down_fails_the_request_and_a_lost_message_is_replaced(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    queue.down = True
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    # Linked all the same, and due at once for the schedule.
    assert store.get_connection("u1", linked.id).next_sync_at == NOW
    with pytest.raises(QueueUnavailable):
        linking.request_sync(aggregation, "u1", linked.id, NOW)
    queue.down = False
    job = linking.request_sync(aggregation, "u1", linked.id, NOW)
    assert job.status is JobStatus.QUEUED
    # Its message is lost (say, the broker lost it): past its lease a request replaces it.
    assert linking.request_sync(aggregation, "u1", linked.id, NOW).id == job.id
    later = NOW + POLICY.queued_timeout + timedelta(seconds=1)
    replacement = linking.request_sync(aggregation, "u1", linked.id, later)
    assert replacement.id != job.id
    abandoned = store.get_job("u1", job.id)
    assert abandoned.status is JobStatus.FAILED
    assert abandoned.error is not None
    assert abandoned.error.code == "ABANDONED"


def test_a_sync_the_queue_refuses_leaves_its_connection_due_for_the_schedule(
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    queue: RecordingQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    sync_jobs.run_job(aggregation, "u1", queue.sent[0][1], NOW)
    queue.sent.clear()
    due_at = NOW + timedelta(hours=1)
    scheduled: list[int] = []

    def schedule_then_refuse(user_id: str, job_id: str, delay: float = 0.0) -> None:
        # While a refresh's job is being queued, the schedule claims the connection: it finds
        # that job unfinished and takes it for its own. Then the queue refuses the job.
        scheduled.append(schedule.schedule_due(aggregation, due_at))
        raise QueueUnavailable()

    monkeypatch.setattr(queue, "send", schedule_then_refuse)
    with pytest.raises(QueueUnavailable):
        linking.request_sync(aggregation, "u1", linked.id, due_at)
    assert scheduled == [1]
    monkeypatch.undo()
    # The queue is back: the next pass sends the sync, rather than an interval later.
    assert schedule.schedule_due(aggregation, due_at + timedelta(seconds=5)) == 1
    assert [user for user, _ in queue.sent] == ["u1"]


def test_the_schedule_requests_each_due_connection_once_across_hosts(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    logins = [("u1", "ins_tattersall"), ("u1", "ins_platypus"), ("u2", "ins_tattersall")]
    users = [user for user, _ in logins]
    linked = [
        linking.link(aggregation, user, "sandbox", institution, GOOD, NOW)[0]
        for user, institution in logins
    ]
    for user, job_id in list(queue.sent):
        sync_jobs.run_job(aggregation, user, job_id, NOW)
    queue.sent.clear()
    assert schedule.schedule_due(aggregation, NOW + timedelta(minutes=59)) == 0
    due_at = NOW + timedelta(hours=1)
    # Four hosts' schedulers at the same moment: each connection is requested once in all.
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: schedule.schedule_due(aggregation, due_at), range(4)))
    assert sum(counts) == 3
    assert sorted(user for user, _ in queue.sent) == sorted(users)
    for user, connection in zip(users, linked, strict=True):
        next_time = store.get_connection(user, connection.id).next_sync_at
        assert next_time == due_at + timedelta(hours=1)


def test_webhooks_refresh_ask_for_a_login_or_disconnect(
    sandbox_url: str,
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    queue: RecordingQueue,
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    sync_jobs.run_job(aggregation, "u1", queue.sent[0][1], NOW)
    queue.sent.clear()
    item = linked.item_id
    assert notices.notice(aggregation, "sandbox", "item-unknown", "DEFAULT_UPDATE", NOW) == (
        "ignored"
    )
    assert notices.notice(aggregation, "sandbox", item, "WEBHOOK_UPDATE_ACKNOWLEDGED", NOW) == (
        "ignored"
    )
    assert queue.sent == []
    assert notices.notice(aggregation, "sandbox", item, "DEFAULT_UPDATE", NOW) == "refresh"
    assert len(queue.sent) == 1
    assert notices.notice(aggregation, "sandbox", item, "ITEM_LOGIN_REQUIRED", NOW) == (
        "login_required"
    )
    assert store.get_connection("u1", linked.id).status is ConnectionStatus.LOGIN_REQUIRED
    assert notices.notice(aggregation, "sandbox", item, "USER_PERMISSION_REVOKED", NOW) == (
        "disconnected"
    )
    gone = store.get_connection("u1", linked.id)
    assert (gone.status, gone.next_sync_at) == (ConnectionStatus.DISCONNECTED, None)


def test_refused_links_keep_nothing_and_ask_the_provider_nothing_for_nobody(
    aggregation: Aggregation, store: InMemoryAccountRepository
) -> None:
    with pytest.raises(LinkRefused, match="INVALID_CREDENTIALS"):
        linking.link(aggregation, "u1", "sandbox", "ins_platypus", {**GOOD, "password": "no"}, NOW)
    with pytest.raises(InvalidData):
        linking.link(aggregation, "u1", "plaid", "ins_platypus", GOOD, NOW)
    with pytest.raises(UserNotFound):
        linking.link(aggregation, "nobody", "sandbox", "ins_platypus", GOOD, NOW)
    assert store.list_connections("u1") == []


def test_a_token_sealed_under_another_key_is_a_connection_error_not_a_crash(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    rekeyed = replace(aggregation, seal=TokenSeal(Fernet.generate_key().decode()))
    assert sync_jobs.run_job(rekeyed, "u1", queue.sent[0][1], NOW).outcome == "failed"
    shown = store.get_connection("u1", linked.id)
    assert shown.status is ConnectionStatus.ERROR
    assert shown.error is not None
    assert shown.error.code == "TOKEN_UNREADABLE"
    with pytest.raises(ConfigurationError, match="Fernet key"):
        TokenSeal("not-a-key")


def test_a_sync_past_the_most_accounts_a_user_may_hold_fails_and_stores_nothing(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    limited = replace(aggregation, max_accounts=3)
    linked, _ = linking.link(limited, "u1", "sandbox", "ins_platypus", GOOD, NOW)  # 4 accounts
    assert sync_jobs.run_job(limited, "u1", queue.sent[0][1], NOW).outcome == "failed"
    shown = store.get_connection("u1", linked.id)
    assert shown.status is ConnectionStatus.ERROR
    assert shown.error is not None
    assert shown.error.code == "TOO_MANY_ACCOUNTS"
    assert store.list_accounts("u1") == []


def test_a_connection_linked_before_fingerprints_is_matched_by_its_accounts(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    linked, _ = linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    sync_jobs.run_job(aggregation, "u1", queue.sent[0][1], NOW)
    # As a connection linked before migration 0017 is: no fingerprint.
    store.modify_connection("u1", linked.id, lambda found: replace(found, fingerprint=None))
    with pytest.raises(AlreadyLinked) as refused:
        linking.link(aggregation, "u1", "sandbox", "ins_platypus", GOOD, NOW)
    assert refused.value.connection_id == linked.id
    # Another bank's login is not it.
    other, _ = linking.link(aggregation, "u1", "sandbox", "ins_tattersall", GOOD, NOW)
    assert [found.id for found in store.list_connections("u1")] == [linked.id, other.id]
