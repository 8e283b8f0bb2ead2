"""A sync that meets a delete, on every store: the sync is held at the moment before its write
(its provider has answered nothing yet), the connection or the user is deleted, then the sync is
let go. What the delete removed must stay removed. A held sync's lease: renewed while it runs,
taken over once it stops being renewed. A notice that comes while a sync is held at its
provider's answer: another sync follows. And the same login linked twice at once: one is held
between the provider's answer and keeping the connection while the other links."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.adapters.sealing import TokenSeal
from app.domain.errors import AlreadyLinked, ConnectionNotFound, UserNotFound
from app.services import linking, notices, sync_jobs
from app.services.aggregation import Aggregation, Attempt
from app.services.providers import (
    AccountIdentity,
    Balances,
    LinkedItem,
    ProviderAccount,
    ProviderAdapter,
)
from app.services.repositories import Store
from tests.databases import STORE_KINDS, store_of
from tests.integration.test_connections_service import RecordingQueue
from tests.samples import POLICY

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


class HeldProvider(ProviderAdapter):
    """A provider whose answer to `accounts` waits until the test lets it go."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.answer = threading.Event()

    def exchange(self, institution_id: str, credentials: Mapping[str, str]) -> LinkedItem:
        return LinkedItem("access-1", "item-1", institution_id, "First Platypus Bank")

    def accounts(self, access_token: str) -> list[ProviderAccount]:
        self.asked.set()
        assert self.answer.wait(10), "the test never let the sync go"
        balances = Balances(None, Decimal("12.34"), None, "USD", None)
        return [ProviderAccount("ext-1", "Checking", None, "0001", "depository", None, balances)]


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    found = store_of(request.param, request, tmp_path, {"frank": []})
    yield found
    found.close()


@pytest.fixture
def provider() -> HeldProvider:
    return HeldProvider()


def aggregation_of(store: Store, provider: ProviderAdapter) -> Aggregation:
    return Aggregation(
        accounts=store,
        connections=store,
        providers={"sandbox": provider},
        seal=TokenSeal(Fernet.generate_key().decode()),
        queue=RecordingQueue(),
        policy=POLICY,
    )


@pytest.fixture
def aggregation(store: Store, provider: HeldProvider) -> Aggregation:
    return aggregation_of(store, provider)


def held_sync(aggregation: Aggregation, provider: HeldProvider) -> Future[Attempt]:
    """frank's connection linked, and its sync running, held before it writes."""
    linking.link(aggregation, "frank", "sandbox", "ins_platypus", {}, NOW)
    [(_, job_id)] = aggregation.queue.sent  # type: ignore[attr-defined]
    pool = ThreadPoolExecutor(1)
    running = pool.submit(sync_jobs.run_job, aggregation, "frank", job_id, NOW)
    pool.shutdown(wait=False)
    assert provider.asked.wait(10), "the sync never asked its provider"
    return running


def test_a_connection_deleted_while_its_sync_runs_stays_deleted(
    aggregation: Aggregation, provider: HeldProvider, store: Store
) -> None:
    running = held_sync(aggregation, provider)
    [connection] = store.list_connections("frank")
    store.delete_connection("frank", connection.id)
    provider.answer.set()
    assert running.result(10).outcome == "skipped"
    assert store.list_accounts("frank") == []
    with pytest.raises(ConnectionNotFound):
        store.get_connection("frank", connection.id)


def test_a_user_deleted_and_made_again_while_a_sync_runs_gets_none_of_it(
    aggregation: Aggregation, provider: HeldProvider, store: Store
) -> None:
    running = held_sync(aggregation, provider)
    store.delete_user("frank")
    store.add_user("frank")
    provider.answer.set()
    assert running.result(10).outcome == "skipped"
    assert store.list_accounts("frank") == []
    assert store.list_connections("frank") == []


def test_a_user_deleted_while_a_sync_runs_stays_deleted(
    aggregation: Aggregation, provider: HeldProvider, store: Store
) -> None:
    running = held_sync(aggregation, provider)
    store.delete_user("frank")
    provider.answer.set()
    assert running.result(10).outcome == "skipped"
    with pytest.raises(UserNotFound):
        store.list_accounts("frank")


class GrowingProvider(HeldProvider):
    """A held provider whose login gains a savings account once the test says so; each answer
    is what the login held when it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.grown = False

    def accounts(self, access_token: str) -> list[ProviderAccount]:
        grown = self.grown
        said = super().accounts(access_token)
        balances = Balances(None, Decimal("5"), None, "USD", None)
        added = ProviderAccount("ext-2", "Savings", None, "0002", "depository", None, balances)
        return [*said, added] if grown else said


@pytest.mark.parametrize("code", ["NEW_ACCOUNTS_AVAILABLE", "DEFAULT_UPDATE"])
def test_a_notice_that_comes_while_a_sync_runs_is_answered_by_a_sync_after_it(
    store: Store, code: str
) -> None:
    provider = GrowingProvider()
    aggregation = aggregation_of(store, provider)
    running = held_sync(aggregation, provider)  # its provider asked before the account came
    provider.grown = True
    assert notices.notice(aggregation, "sandbox", "item-1", code, NOW) == "refresh"
    provider.answer.set()
    assert running.result(10).outcome == "succeeded"
    [connection] = store.list_connections("frank")
    # Not answered by a sync that began before it came.
    assert connection.new_accounts_available is (code == "NEW_ACCOUNTS_AVAILABLE")
    [_, (_, after)] = aggregation.queue.sent  # type: ignore[attr-defined]
    assert sync_jobs.run_job(aggregation, "frank", after, NOW).outcome == "succeeded"
    assert sorted(account.account_name for account in store.list_accounts("frank")) == [
        "Checking",
        "Savings",
    ]
    assert not store.get_connection("frank", connection.id).new_accounts_available
    assert len(aggregation.queue.sent) == 2  # type: ignore[attr-defined]  # and no more after


def test_a_running_attempt_renews_its_lease_and_a_dead_ones_job_is_taken_over_after_one(
    aggregation: Aggregation, provider: HeldProvider, store: Store
) -> None:
    """The runner's heartbeat is driven by hand here: each beat is a moment of the test's."""
    linking.link(aggregation, "frank", "sandbox", "ins_platypus", {}, NOW)
    [(_, job_id)] = aggregation.queue.sent  # type: ignore[attr-defined]
    beats: list[Callable[[datetime], None]] = []
    every: list[float] = []

    @contextmanager
    def by_hand(beat: Callable[[datetime], None], seconds: float) -> Iterator[None]:
        beats.append(beat)
        every.append(seconds)
        yield

    pool = ThreadPoolExecutor(2)
    running = pool.submit(sync_jobs.run_job, aggregation, "frank", job_id, NOW, by_hand)
    assert provider.asked.wait(10)
    assert every == [POLICY.lease.total_seconds() / 3]
    # Long after its first lease, the attempt still holds the job: it beat in time.
    later = NOW + 3 * POLICY.lease
    beats[0](later - POLICY.lease / 3)
    assert store.get_job("frank", job_id).lease_until == later - POLICY.lease / 3 + POLICY.lease
    assert sync_jobs.run_job(aggregation, "frank", job_id, later).outcome == "busy"
    # It dies without another beat: once its lease has passed, another worker takes it over.
    taken_over = later + POLICY.lease
    second = pool.submit(sync_jobs.run_job, aggregation, "frank", job_id, taken_over)
    deadline = time.monotonic() + 10
    while store.get_job("frank", job_id).attempts < 2:
        assert time.monotonic() < deadline, "the job was never taken over"
        time.sleep(0.01)
    # The first one's late beat holds nothing: the job is not its any more.
    beats[0](taken_over + timedelta(seconds=1))
    assert store.get_job("frank", job_id).lease_until == taken_over + POLICY.lease
    provider.answer.set()
    assert second.result(10).outcome == "succeeded"
    assert running.result(10).outcome == "succeeded"  # its write was the same: no harm
    pool.shutdown()
    assert len(store.list_accounts("frank")) == 1


class HeldLinkProvider(ProviderAdapter):
    """A provider whose first exchange, answered, waits until the test lets it go; every
    exchange is of the same login (the same accounts), as a new item."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.go = threading.Event()
        self.items = 0
        self.removed: list[str] = []
        self._lock = threading.Lock()

    def exchange(self, institution_id: str, credentials: Mapping[str, str]) -> LinkedItem:
        with self._lock:
            self.items += 1
            number = self.items
        same_login = (AccountIdentity("0001", "Checking", "persistent-1"),)
        item = LinkedItem(f"access-{number}", f"item-{number}", institution_id, "Bank", same_login)
        if number == 1:
            self.answered.set()
            assert self.go.wait(10), "the test never let the link go"
        return item

    def remove(self, access_token: str) -> None:
        self.removed.append(access_token)

    def accounts(self, access_token: str) -> list[ProviderAccount]:
        return []


def test_the_same_login_linked_twice_at_once_ends_as_one_connection(store: Store) -> None:
    provider = HeldLinkProvider()
    aggregation = aggregation_of(store, provider)
    pool = ThreadPoolExecutor(1)
    # The first link has its item from the provider, and is held before it keeps it.
    first = pool.submit(linking.link, aggregation, "frank", "sandbox", "ins_1", {}, NOW)
    pool.shutdown(wait=False)
    assert provider.answered.wait(10), "the first link never reached the provider"
    # The second, the same login, links meanwhile.
    second, _ = linking.link(aggregation, "frank", "sandbox", "ins_1", {}, NOW)
    provider.go.set()
    with pytest.raises(AlreadyLinked) as refused:
        first.result(10)
    assert refused.value.connection_id == second.id
    assert [found.id for found in store.list_connections("frank")] == [second.id]
    assert provider.removed == ["access-1"]  # the provider lets go of the login kept nowhere
