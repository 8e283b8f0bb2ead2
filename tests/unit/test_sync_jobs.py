"""What an attempt at a sync job records, on the job and on its connection, for each way it can
end: with a provider that answers what the test scripts, the in-memory store, and a queue that
only records (the real provider and queues: tests/integration)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.adapters.sealing import TokenSeal
from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.connections import ConnectionStatus, JobStatus, SyncFailure, SyncJob
from app.domain.errors import QueueUnavailable
from app.services import linking, notices, schedule, sync_jobs
from app.services.aggregation import Aggregation
from app.services.providers import (
    Balances,
    LinkedItem,
    LoginRequired,
    ProviderAccount,
    ProviderAdapter,
    ProviderError,
)
from app.services.queue import JobQueue
from tests.samples import POLICY

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
#: A Fernet key, for these tests only.
KEY = "k3YHb5cA3vAi0N1Ifc3gnkD0qXk4wL3oaz5dG4pQ0nI="
CHECKING = ProviderAccount(
    "ext-1", "Checking", None, "0001", "depository", None,
    Balances(None, Decimal("12.34"), None, "USD", None),
)  # fmt: skip


class ScriptedProvider(ProviderAdapter):
    """Answers each `accounts` call with the next of `answers`: accounts, or an error raised."""

    def __init__(self) -> None:
        self.answers: list[list[ProviderAccount] | ProviderError] = []

    def exchange(self, institution_id: str, credentials: Mapping[str, str]) -> LinkedItem:
        return LinkedItem("access-1", "item-1", institution_id, "First Platypus Bank")

    def accounts(self, access_token: str) -> list[ProviderAccount]:
        answer = self.answers.pop(0)
        if isinstance(answer, ProviderError):
            raise answer
        return answer


class RecordingQueue(JobQueue):
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refused: list[str] = []
        self.down = False

    def send(self, user_id: str, job_id: str, delay: float = 0.0) -> None:
        if self.down:
            self.refused.append(job_id)
            raise QueueUnavailable()
        self.sent.append(job_id)


@pytest.fixture
def store() -> InMemoryAccountRepository:
    return InMemoryAccountRepository({"u1": []})


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def aggregation(
    store: InMemoryAccountRepository, provider: ScriptedProvider, queue: RecordingQueue
) -> Aggregation:
    return Aggregation(store, store, {"sandbox": provider}, TokenSeal(KEY), queue, POLICY)


def linked(aggregation: Aggregation, queue: RecordingQueue) -> tuple[str, str]:
    """The connection's id and its first job's."""
    connection, job = linking.link(aggregation, "u1", "sandbox", "ins_1", {}, NOW)
    assert queue.sent[-1] == job.id
    return connection.id, queue.sent[-1]


def test_a_sync_that_goes_through_is_recorded_on_the_job_and_the_connection(
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    provider: ScriptedProvider,
    queue: RecordingQueue,
) -> None:
    connection_id, job_id = linked(aggregation, queue)
    down = ProviderError("INSTITUTION_DOWN", "the bank is down", retryable=True)
    provider.answers = [down, [CHECKING]]
    sync_jobs.run_job(aggregation, "u1", job_id, NOW)
    later = NOW + timedelta(minutes=10)
    assert sync_jobs.run_job(aggregation, "u1", job_id, later).outcome == "succeeded"
    job = store.get_job("u1", job_id)
    assert (job.status, job.accounts_added, job.accounts_updated, job.accounts_closed) == (
        JobStatus.SUCCEEDED, 1, 0, 0,
    )  # fmt: skip
    assert (job.finished_at, job.lease_until, job.error, job.attempts) == (later, None, None, 2)
    connection = store.get_connection("u1", connection_id)
    assert (connection.status, connection.last_successful_sync, connection.error) == (
        ConnectionStatus.HEALTHY, later, None,
    )  # the failure before is cleared  # fmt: skip
    assert connection.next_sync_at == later + timedelta(hours=1)
    # The next sync: the balance moved, and a second account came and went.
    savings = ProviderAccount(
        "ext-2", "Savings", None, "0002", "depository", "savings",
        Balances(None, Decimal(5), None, "USD", None),
    )  # fmt: skip
    moved = replace(CHECKING, balances=replace(CHECKING.balances, current=Decimal("20.00")))
    provider.answers = [[CHECKING, savings], [moved]]
    for added, updated, closed in [(1, 0, 0), (0, 1, 1)]:
        again = linking.request_sync(aggregation, "u1", connection_id, later)
        assert sync_jobs.run_job(aggregation, "u1", again.id, later).outcome == "succeeded"
        done = store.get_job("u1", again.id)
        assert (done.accounts_added, done.accounts_updated, done.accounts_closed) == (
            added, updated, closed,
        )  # fmt: skip


def test_failures_that_may_pass_are_retried_then_given_up(
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    provider: ScriptedProvider,
    queue: RecordingQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    connection_id, job_id = linked(aggregation, queue)
    down = ProviderError("INSTITUTION_DOWN", "the bank is down", retryable=True)
    provider.answers = [down, down, down]
    failure = SyncFailure("INSTITUTION_DOWN", "the bank is down")
    for attempt, wait in [(1, 2.0), (2, 4.0)]:
        tried = sync_jobs.run_job(aggregation, "u1", job_id, NOW)
        assert (tried.outcome, tried.retry_in) == ("retrying", wait)
        job = store.get_job("u1", job_id)
        assert (job.status, job.error, job.attempts) == (JobStatus.QUEUED, failure, attempt)
        assert job.lease_until == NOW + timedelta(seconds=wait) + POLICY.queued_timeout
        connection = store.get_connection("u1", connection_id)
        assert (connection.status, connection.last_failed_sync, connection.error) == (
            ConnectionStatus.SYNCING, NOW, failure,
        )  # fmt: skip
    assert sync_jobs.run_job(aggregation, "u1", job_id, NOW).outcome == "gave_up"
    job = store.get_job("u1", job_id)
    assert (job.status, job.error, job.finished_at, job.lease_until) == (
        JobStatus.FAILED, failure, NOW, None,
    )  # fmt: skip
    assert (job.accounts_added, job.accounts_updated, job.accounts_closed) == (0, 0, 0)
    connection = store.get_connection("u1", connection_id)
    assert (connection.status, connection.error) == (ConnectionStatus.ERROR, failure)


def test_a_login_required_is_not_retried_and_the_connection_says_so(
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    provider: ScriptedProvider,
    queue: RecordingQueue,
) -> None:
    connection_id, job_id = linked(aggregation, queue)
    provider.answers = [LoginRequired("log in again")]
    assert sync_jobs.run_job(aggregation, "u1", job_id, NOW).outcome == "failed"
    failure = SyncFailure("ITEM_LOGIN_REQUIRED", "log in again")
    job = store.get_job("u1", job_id)
    assert (job.status, job.error, job.finished_at) == (JobStatus.FAILED, failure, NOW)
    connection = store.get_connection("u1", connection_id)
    assert (connection.status, connection.error, connection.last_failed_sync) == (
        ConnectionStatus.LOGIN_REQUIRED, failure, NOW,
    )  # fmt: skip


def test_a_job_whose_message_was_lost_is_abandoned_for_a_new_one(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    connection_id, lost = linked(aggregation, queue)
    later = NOW + POLICY.queued_timeout + timedelta(seconds=1)
    fresh = linking.request_sync(aggregation, "u1", connection_id, later)
    assert fresh.id != lost
    old = store.get_job("u1", lost)
    assert (old.status, old.finished_at, old.lease_until) == (JobStatus.FAILED, later, None)
    assert old.error == SyncFailure(
        "ABANDONED", "the job's message was lost; a new job took its place"
    )
    # Before its time, the unfinished job is the answer.
    assert linking.request_sync(aggregation, "u1", connection_id, later).id == fresh.id


def test_a_job_the_queue_refuses_fails_and_leaves_its_connection_due_at_once(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    connection_id, _ = linked(aggregation, queue)
    queue.down = True
    later = NOW + POLICY.queued_timeout + timedelta(seconds=1)  # the first one's message lost
    with pytest.raises(QueueUnavailable):
        linking.request_sync(aggregation, "u1", connection_id, later)
    refused = store.get_job("u1", queue.refused[-1])
    assert (refused.status, refused.error) == (
        JobStatus.FAILED,
        SyncFailure("QUEUE_UNAVAILABLE", str(QueueUnavailable())),
    )
    assert store.get_connection("u1", connection_id).next_sync_at == later


def test_the_schedule_puts_a_connection_back_in_line_when_the_queue_is_down(
    aggregation: Aggregation, store: InMemoryAccountRepository, queue: RecordingQueue
) -> None:
    connection_id, first = linked(aggregation, queue)
    due = store.get_connection("u1", connection_id).next_sync_at
    assert due == NOW + timedelta(hours=1)
    store.modify_job("u1", first, lambda job: replace(job, status=JobStatus.SUCCEEDED))
    queue.down = True
    assert schedule.schedule_due(aggregation, due) == 0
    assert store.get_connection("u1", connection_id).next_sync_at == due  # its place kept
    queue.down = False
    assert schedule.schedule_due(aggregation, due) == 1
    assert store.get_connection("u1", connection_id).next_sync_at == due + timedelta(hours=1)


def test_a_revoked_connection_keeps_saying_so_whatever_a_sync_finds(
    aggregation: Aggregation,
    store: InMemoryAccountRepository,
    provider: ScriptedProvider,
    queue: RecordingQueue,
) -> None:
    connection_id, job_id = linked(aggregation, queue)
    assert notices.notice(aggregation, "sandbox", "item-1", "USER_PERMISSION_REVOKED", NOW) == (
        "disconnected"
    )
    provider.answers = [[CHECKING]]
    assert sync_jobs.run_job(aggregation, "u1", job_id, NOW).outcome == "succeeded"
    connection = store.get_connection("u1", connection_id)
    assert (connection.status, connection.next_sync_at) == (ConnectionStatus.DISCONNECTED, None)


class ClaimedMeanwhile(InMemoryAccountRepository):
    """A store where a worker claims the job just after a request found its lease run out."""

    def open_job(self, user_id: str, job: SyncJob) -> tuple[SyncJob, bool]:
        found, new = super().open_job(user_id, job)
        if not new and found.status is JobStatus.QUEUED:
            self.modify_job(
                user_id,
                found.id,
                lambda current: replace(
                    current, status=JobStatus.RUNNING, lease_until=LATER + POLICY.lease
                ),
            )
        return found, new


LATER = NOW + POLICY.queued_timeout + timedelta(seconds=1)


def test_a_job_claimed_meanwhile_is_not_abandoned(
    provider: ScriptedProvider, queue: RecordingQueue
) -> None:
    store = ClaimedMeanwhile({"u1": []})
    aggregation = Aggregation(store, store, {"sandbox": provider}, TokenSeal(KEY), queue, POLICY)
    connection_id, lost = linked(aggregation, queue)
    answered = linking.request_sync(aggregation, "u1", connection_id, LATER)
    assert answered.id == lost  # the running job is the answer; nothing was abandoned
    assert store.get_job("u1", lost).status is JobStatus.RUNNING
    assert queue.sent == [lost]
