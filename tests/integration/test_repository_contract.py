"""The contract every repository backend honours, run unchanged on memory, SQLite and PostgreSQL,
and on PostgreSQL with its revisions on a Redis board (app/adapters/storage/revisions.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.accounts import Account, AccountStatus, AccountType, CheckingDetails, CreditDetails
from app.domain.connections import Connection, ConnectionStatus, JobStatus, SyncFailure, SyncJob
from app.domain.errors import (
    AccountExists,
    AccountNotFound,
    ConnectionNotFound,
    NotMergeable,
    SyncJobNotFound,
    TooManyAccounts,
    UserExists,
    UserNotFound,
    VersionConflict,
)
from app.domain.history import Point
from app.schemas.accounts import AccountSchema
from app.services.repositories import KeyClaim, KeyState, RecordedAnswer, Store, SyncOutcome
from app.services.unit import after_commit, unit_of_work
from tests.databases import STORE_KINDS, store_of
from tests.samples import valid_account

_schema = AccountSchema()


def account(account_type: str, account_id: str) -> Account:
    loaded: Account = _schema.load(valid_account(account_type, id=account_id))
    return loaded


# Deliberately not in id or type order, to tell "the order added" apart from any sorting.
ALICE = [account("loan", "z9"), account("credit", "a1"), account("checking", "m5")]
BOB = [account("credit", "a1")]
INITIAL = {"alice": ALICE, "bob": BOB, "carol": []}


@pytest.fixture(params=STORE_KINDS)
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    repository = store_of(request.param, request, tmp_path, INITIAL)
    yield repository
    repository.close()


def replace_with(
    repository: Store, user_id: str, new: Account, expected_version: int | None = None
) -> Account:
    """A whole-account replacement: a modification that ignores what was there."""
    return repository.modify_account(user_id, new.id, lambda _: new, expected_version)


def test_lists_accounts_in_the_order_they_were_added(repository: Store) -> None:
    assert repository.list_accounts("alice") == ALICE


def test_filters_by_a_set_of_types_keeping_the_order(repository: Store) -> None:
    assert repository.list_accounts("alice", {AccountType.CREDIT, AccountType.LOAN}) == [
        ALICE[0],
        ALICE[1],
    ]
    assert repository.list_accounts("alice", {AccountType.SAVINGS}) == []


def test_a_user_without_accounts_has_an_empty_list(repository: Store) -> None:
    assert repository.list_accounts("carol") == []
    assert repository.list_accounts("carol", {AccountType.CREDIT}) == []


def test_an_unknown_user_is_not_found(repository: Store) -> None:
    with pytest.raises(UserNotFound):
        repository.list_accounts("dave")
    with pytest.raises(UserNotFound):
        repository.get_account("dave", "a1")


def test_gets_one_account_of_the_right_user(repository: Store) -> None:
    assert repository.get_account("alice", "a1") == ALICE[1]
    assert repository.get_account("bob", "a1") == BOB[0]


def test_an_account_of_another_user_is_not_found(repository: Store) -> None:
    with pytest.raises(AccountNotFound):
        repository.get_account("bob", "z9")


def test_the_list_handed_out_is_a_copy(repository: Store) -> None:
    repository.list_accounts("alice").clear()
    assert repository.list_accounts("alice") == ALICE


# Writes


def test_add_user_and_account(repository: Store) -> None:
    repository.add_user("dave")
    stored = repository.add_account("dave", account("savings", "s1"))
    assert repository.list_accounts("dave") == [stored]
    assert stored.version > 0


def test_add_an_existing_user_or_account(repository: Store) -> None:
    with pytest.raises(UserExists):
        repository.add_user("alice")
    with pytest.raises(AccountExists):
        repository.add_account("alice", account("savings", "a1"))
    with pytest.raises(UserNotFound):
        repository.add_account("dave", account("savings", "s1"))
    assert repository.list_accounts("alice") == ALICE


def test_every_write_gives_a_new_version(repository: Store) -> None:
    first = repository.get_account("alice", "a1")
    second = replace_with(repository, "alice", first)
    third = replace_with(repository, "alice", second)
    assert len({first.version, second.version, third.version}) == 3


def test_replace_keeps_the_place_in_the_list(repository: Store) -> None:
    changed = account("savings", "a1")
    replace_with(repository, "alice", changed)
    assert [a.id for a in repository.list_accounts("alice")] == ["z9", "a1", "m5"]
    assert repository.get_account("alice", "a1") == changed


def test_a_stale_version_is_a_conflict_and_changes_nothing(repository: Store) -> None:
    stale = repository.get_account("alice", "a1").version
    replace_with(repository, "alice", account("credit", "a1"))
    current = repository.get_account("alice", "a1")
    with pytest.raises(VersionConflict):
        replace_with(repository, "alice", account("loan", "a1"), expected_version=stale)
    with pytest.raises(VersionConflict):
        repository.delete_account("alice", "a1", expected_version=stale)
    assert repository.get_account("alice", "a1").version == current.version
    repository.delete_account("alice", "a1", expected_version=current.version)
    assert [a.id for a in repository.list_accounts("alice")] == ["z9", "m5"]


def add_one(account: Account) -> Account:
    return replace(account, balance=account.balance + 1)


def test_modify_applies_the_change_to_what_is_stored(repository: Store) -> None:
    before = repository.get_account("alice", "a1")
    after = repository.modify_account("alice", "a1", add_one)
    assert after.balance == before.balance + 1
    assert after.version != before.version
    assert repository.get_account("alice", "a1") == after
    assert repository.get_account("alice", "a1").version == after.version
    assert [a.id for a in repository.list_accounts("alice")] == ["z9", "a1", "m5"]


def test_modify_of_a_stale_version_changes_nothing(repository: Store) -> None:
    stale = repository.get_account("alice", "a1").version
    current = repository.modify_account("alice", "a1", add_one)
    with pytest.raises(VersionConflict):
        repository.modify_account("alice", "a1", add_one, expected_version=stale)
    assert repository.get_account("alice", "a1").balance == current.balance
    assert repository.modify_account("alice", "a1", add_one, current.version).balance == (
        current.balance + 1
    )


def test_modify_whose_change_fails_changes_nothing(repository: Store) -> None:
    before = repository.get_account("alice", "a1")

    def refuse(_: Account) -> Account:
        raise ValueError("invalid")

    with pytest.raises(ValueError, match="invalid"):
        repository.modify_account("alice", "a1", refuse)
    assert repository.get_account("alice", "a1").version == before.version


def test_modify_of_missing_things(repository: Store) -> None:
    with pytest.raises(UserNotFound):
        repository.modify_account("dave", "a1", add_one)
    with pytest.raises(AccountNotFound):
        repository.modify_account("alice", "nope", add_one)


def test_concurrent_modifies_take_turns_and_all_land(repository: Store) -> None:
    start = repository.get_account("bob", "a1").balance

    def work(_: int) -> None:
        for _ in range(25):
            repository.modify_account("bob", "a1", add_one)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert repository.get_account("bob", "a1").balance == start + 8 * 25


def test_writes_to_missing_things(repository: Store) -> None:
    with pytest.raises(AccountNotFound):
        replace_with(repository, "alice", account("loan", "nope"))
    with pytest.raises(AccountNotFound):
        repository.delete_account("alice", "nope")
    with pytest.raises(UserNotFound):
        repository.delete_user("dave")


def test_delete_user_takes_their_accounts(repository: Store) -> None:
    repository.delete_user("alice")
    with pytest.raises(UserNotFound):
        repository.get_account("alice", "a1")
    repository.add_user("alice")
    assert repository.list_accounts("alice") == []
    assert repository.list_accounts("bob") == BOB


def test_every_write_to_a_user_gives_a_new_revision_that_never_comes_back(
    repository: Store,
) -> None:
    seen = [repository.user_revision("alice")]

    def changed() -> None:
        revision = repository.user_revision("alice")
        assert revision not in seen
        seen.append(revision)

    repository.add_account("alice", account("savings", "s1"))
    changed()
    replace_with(repository, "alice", account("credit", "s1"))
    changed()
    repository.modify_account("alice", "s1", add_one)
    changed()
    repository.delete_account("alice", "s1")
    changed()
    repository.seed({"alice": [account("savings", "s2")]})
    changed()
    for _ in range(3):
        repository.delete_user("alice")
        repository.add_user("alice")
        changed()
    repository.replace_all({"alice": []})
    changed()


def test_reads_and_refused_writes_keep_the_revision(repository: Store) -> None:
    revision = repository.user_revision("alice")
    bob = repository.user_revision("bob")
    repository.list_accounts("alice")
    repository.get_account("alice", "a1")
    stale = repository.get_account("alice", "a1").version + 1000
    with pytest.raises(AccountExists):
        repository.add_account("alice", account("credit", "a1"))
    with pytest.raises(VersionConflict):
        repository.delete_account("alice", "a1", expected_version=stale)
    with pytest.raises(AccountNotFound):
        repository.modify_account("alice", "nope", add_one)
    repository.seed({"alice": ALICE})
    assert repository.user_revision("alice") == revision
    repository.add_account("alice", account("savings", "s1"))
    assert repository.user_revision("bob") == bob
    with pytest.raises(UserNotFound):
        repository.user_revision("dave")


def test_a_listing_is_a_revision_and_the_accounts_as_of_it(repository: Store) -> None:
    """On a cold board the accounts come with the revision, else after it; either way exact."""
    for user_id, types in [("alice", {AccountType.CREDIT}), ("carol", None), ("alice", None)]:
        revision, accounts = repository.listing(user_id, types)
        assert revision == repository.user_revision(user_id)
        assert accounts in (None, repository.list_accounts(user_id, types))
    repository.add_account("alice", account("savings", "s1"))
    after, accounts = repository.listing("alice")
    assert after != revision
    assert accounts in (None, [*ALICE, account("savings", "s1")])
    with pytest.raises(UserNotFound):
        repository.listing("dave")


def test_a_users_base_currency_is_kept_and_changing_it_moves_their_revision(
    repository: Store,
) -> None:
    assert repository.base_currency("alice") == "USD"
    revision, bob = repository.user_revision("alice"), repository.user_revision("bob")
    repository.set_base_currency("alice", "EUR")
    assert repository.base_currency("alice") == "EUR"
    assert repository.user_revision("alice") != revision
    assert repository.user_revision("bob") == bob
    repository.add_account("alice", account("savings", "s1"))  # kept through other writes
    assert repository.base_currency("alice") == "EUR"
    for missing in (
        lambda: repository.base_currency("dave"),
        lambda: repository.set_base_currency("dave", "EUR"),
    ):
        with pytest.raises(UserNotFound):
            missing()


def test_users_are_listed_in_id_order_a_page_at_a_time(repository: Store) -> None:
    assert repository.list_users(None, 10) == ["alice", "bob", "carol"]
    assert repository.list_users(None, 2) == ["alice", "bob"]
    assert repository.list_users("bob", 2) == ["carol"]
    assert repository.list_users("carol", 2) == []
    assert repository.list_users("b", 1) == ["bob"]  # after any id, not only a listed one
    repository.delete_user("bob")
    repository.add_user("aaron")
    assert repository.list_users(None, 10) == ["aaron", "alice", "carol"]


def test_export_and_replace_all(repository: Store) -> None:
    assert repository.export() == {"alice": ALICE, "bob": BOB, "carol": []}
    repository.replace_all({"erin": [account("loan", "e1")]})
    assert repository.export() == {"erin": [account("loan", "e1")]}
    with pytest.raises(UserNotFound):
        repository.list_accounts("alice")


def test_compare_and_set_loses_no_update_under_threads(repository: Store) -> None:
    # Switch threads as often as possible, so that a read and the write after it get interleaved.
    usual = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        successes = _increment_concurrently(repository, threads=8, attempts=60)
    finally:
        sys.setswitchinterval(usual)
    assert repository.get_account("bob", "a1").balance == BOB[0].balance + successes
    # Progress, not only safety: at most one attempt per thread reads each version, and one of
    # those moves it on, so 8 x 60 attempts move it at least 60 - 1 times.
    assert successes >= 60 - 1


def _increment_concurrently(repository: Store, threads: int, attempts: int) -> int:
    def work() -> int:
        done = 0
        for _ in range(attempts):
            current = repository.get_account("bob", "a1")
            try:
                replace_with(
                    repository,
                    "bob",
                    replace(current, balance=current.balance + 1),
                    current.version,
                )
                done += 1
            except VersionConflict:
                pass
        return done

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(lambda _: work(), range(threads)))


def test_status_as_of_and_a_synced_accounts_link_are_kept(repository: Store) -> None:
    linked = replace(
        account("credit", "sy1"),
        status=AccountStatus.CLOSED,
        balance_as_of=datetime(2026, 11, 25, 9, 30, 15, 250000, tzinfo=UTC),
        connection_id="c1",
        external_id="provider-id-1",
    )
    repository.add_account("alice", linked)
    assert repository.get_account("alice", "sy1") == linked
    assert repository.list_accounts("alice")[-1] == linked
    assert repository.export()["alice"][-1] == linked


def test_a_synced_account_may_keep_details_its_provider_does_not_know(repository: Store) -> None:
    synced = replace(
        account("credit", "sy2"),
        details=CreditDetails(Decimal(2000), None, None, None),
        connection_id="c1",
        external_id="provider-id-2",
    )
    repository.add_account("alice", synced)
    assert repository.get_account("alice", "sy2") == synced


def from_sync(external_id: str, balance: int, account_id: str | None = None) -> Account:
    return replace(
        account("checking", account_id or f"sync-{external_id}"),
        balance=Decimal(balance),
        details=CheckingDetails(None, None),
        connection_id="conn1",
        external_id=external_id,
    )


def linked_to_conn1(repository: Store) -> list[tuple[str, str | None, Decimal, AccountStatus]]:
    return [
        (found.id, found.external_id, found.balance, found.status)
        for found in repository.list_accounts("alice")
        if found.connection_id == "conn1"
    ]


def test_a_sync_adds_updates_and_closes_and_the_same_sync_again_changes_nothing(
    repository: Store,
) -> None:
    before = repository.list_accounts("alice")
    repository.add_connection("alice", linked_connection("conn1"))
    assert repository.apply_sync("alice", "conn1", [from_sync("e1", 10), from_sync("e2", 20)]) == (
        SyncOutcome(2, 0, 0)
    )
    revision = repository.user_revision("alice")
    # Delivered again (a sync makes new ids each time; a known account keeps its own).
    again = [from_sync("e1", 10, "fresh-1"), from_sync("e2", 20, "fresh-2")]
    assert repository.apply_sync("alice", "conn1", again) == SyncOutcome(0, 0, 0)
    assert repository.user_revision("alice") == revision

    later = [from_sync("e1", 15, "fresh-3"), from_sync("e3", 30)]
    assert repository.apply_sync("alice", "conn1", later) == SyncOutcome(1, 1, 1)
    assert repository.user_revision("alice") != revision
    assert linked_to_conn1(repository) == [
        ("sync-e1", "e1", Decimal(15), AccountStatus.OPEN),
        ("sync-e2", "e2", Decimal(20), AccountStatus.CLOSED),
        ("sync-e3", "e3", Decimal(30), AccountStatus.OPEN),
    ]
    assert repository.apply_sync("alice", "conn1", later) == SyncOutcome(0, 0, 0)
    # An account that comes back is open again.
    back = [*later, from_sync("e2", 20, "fresh-4")]
    assert repository.apply_sync("alice", "conn1", back) == SyncOutcome(0, 1, 0)
    assert linked_to_conn1(repository)[1][3] == AccountStatus.OPEN
    # What was added by hand, and other users, were never touched.
    assert repository.list_accounts("alice")[: len(before)] == before
    assert repository.list_accounts("bob") == BOB
    with pytest.raises(UserNotFound):
        repository.apply_sync("dave", "conn1", later)


def test_a_sync_keeps_the_users_own_fields(repository: Store) -> None:
    repository.add_connection("alice", linked_connection("conn1"))
    repository.apply_sync("alice", "conn1", [from_sync("e1", 10)])
    repository.modify_account(
        "alice",
        "sync-e1",
        lambda found: replace(found, nickname="Mine", hidden=True, include_in_net_worth=False),
    )
    assert repository.apply_sync("alice", "conn1", [from_sync("e1", 12, "new-id")]) == SyncOutcome(
        0, 1, 0
    )
    kept = repository.get_account("alice", "sync-e1")
    assert (kept.balance, kept.nickname, kept.hidden, kept.include_in_net_worth) == (
        Decimal(12),
        "Mine",
        True,
        False,
    )
    # The same news again: nothing to write, the user's fields notwithstanding.
    assert repository.apply_sync("alice", "conn1", [from_sync("e1", 12)]) == SyncOutcome(0, 0, 0)


def linked_connection(connection_id: str = "conn1") -> Connection:
    return Connection(
        id=connection_id,
        provider="sandbox",
        institution_id="ins_platypus",
        institution_name="First Platypus Bank",
        sealed_token="sealed-token-text",
        item_id=f"item-of-{connection_id}",
    )


def test_connections_are_kept_listed_in_order_and_changed_in_turn(repository: Store) -> None:
    first = repository.add_connection("alice", linked_connection("conn1"))
    repository.add_connection("alice", linked_connection("conn2"))
    assert repository.get_connection("alice", "conn1") == first
    assert [found.id for found in repository.list_connections("alice")] == ["conn1", "conn2"]
    assert repository.list_connections("bob") == []
    failed_at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    changed = repository.modify_connection(
        "alice",
        "conn1",
        lambda current: replace(
            current,
            status=ConnectionStatus.LOGIN_REQUIRED,
            last_failed_sync=failed_at,
            error=SyncFailure("ITEM_LOGIN_REQUIRED", "log in again"),
        ),
    )
    assert repository.get_connection("alice", "conn1") == changed
    assert changed.version != first.version
    assert changed.error == SyncFailure("ITEM_LOGIN_REQUIRED", "log in again")

    def add_a_minute(current: Connection) -> Connection:
        previous = current.last_failed_sync or failed_at
        return replace(current, last_failed_sync=previous + timedelta(minutes=1))

    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda _: repository.modify_connection("alice", "conn1", add_a_minute), range(8)
            )
        )
    assert repository.get_connection("alice", "conn1").last_failed_sync == failed_at + timedelta(
        minutes=8
    )


def test_connections_are_found_by_their_item_and_by_when_they_are_due(
    repository: Store,
) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    repository.add_connection(
        "alice", replace(linked_connection("conn1"), next_sync_at=noon + timedelta(minutes=1))
    )
    repository.add_connection(
        "bob", replace(linked_connection("conn2"), next_sync_at=noon - timedelta(minutes=5))
    )
    repository.add_connection("alice", replace(linked_connection("conn3"), next_sync_at=noon))
    repository.add_connection("alice", linked_connection("conn4"))  # never scheduled

    found = repository.find_connection("sandbox", "item-of-conn2")
    assert found is not None
    assert (found[0], found[1].id) == ("bob", "conn2")
    assert repository.find_connection("sandbox", "item-unknown") is None
    assert repository.find_connection("another", "item-of-conn2") is None

    def due(at: datetime, limit: int = 10) -> list[tuple[str, str]]:
        return [(user, found.id) for user, found in repository.due_connections(at, limit)]

    assert due(noon) == [("bob", "conn2"), ("alice", "conn3")]
    assert due(noon, limit=1) == [("bob", "conn2")]
    assert due(noon + timedelta(hours=1)) == [
        ("bob", "conn2"),
        ("alice", "conn3"),
        ("alice", "conn1"),
    ]
    assert due(noon - timedelta(hours=1)) == []


def test_a_delivery_is_first_once_until_it_is_forgotten(repository: Store) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    until = noon + timedelta(minutes=5)
    with ThreadPoolExecutor(8) as pool:
        firsts = list(
            pool.map(lambda _: repository.first_delivery("delivery-1", noon, until), range(8))
        )
    assert firsts.count(True) == 1
    assert repository.first_delivery("delivery-2", noon, until)
    assert not repository.first_delivery("delivery-1", until - timedelta(seconds=1), until)
    # Once its time is over it is forgotten (its timestamp could no longer pass anyway).
    assert repository.first_delivery("delivery-1", until, until + timedelta(minutes=5))


def test_deleting_a_connection_removes_its_accounts_and_nothing_else(repository: Store) -> None:
    before = repository.list_accounts("alice")
    repository.add_connection("alice", linked_connection("conn1"))
    repository.apply_sync("alice", "conn1", [from_sync("e1", 10), from_sync("e2", 20)])
    revision = repository.user_revision("alice")
    assert repository.delete_connection("alice", "conn1") == 2
    assert repository.list_accounts("alice") == before
    assert repository.user_revision("alice") != revision
    assert repository.list_connections("alice") == []


def test_a_sync_for_a_connection_or_user_that_is_gone_stores_nothing(repository: Store) -> None:
    before = repository.list_accounts("alice")
    with pytest.raises(ConnectionNotFound):  # never linked
        repository.apply_sync("alice", "conn1", [from_sync("e1", 10)])
    repository.add_connection("alice", linked_connection("conn1"))
    repository.delete_connection("alice", "conn1")
    revision = repository.user_revision("alice")
    with pytest.raises(ConnectionNotFound):  # unlinked while its provider was asked
        repository.apply_sync("alice", "conn1", [from_sync("e1", 10)])
    assert repository.list_accounts("alice") == before
    assert repository.user_revision("alice") == revision
    # The user deleted and made again under the same id: the old user's sync finds no connection.
    repository.add_connection("bob", linked_connection("conn2"))
    repository.delete_user("bob")
    repository.add_user("bob")
    with pytest.raises(ConnectionNotFound):
        repository.apply_sync("bob", "conn2", [from_sync("e1", 10)])
    assert repository.list_accounts("bob") == []


def test_connections_of_missing_users_and_missing_connections(repository: Store) -> None:
    with pytest.raises(UserNotFound):
        repository.add_connection("dave", linked_connection())
    with pytest.raises(UserNotFound):
        repository.list_connections("dave")
    calls: list[Callable[[], object]] = [
        lambda: repository.get_connection("alice", "nope"),
        lambda: repository.modify_connection("alice", "nope", lambda current: current),
        lambda: repository.delete_connection("alice", "nope"),
    ]
    for call in calls:
        with pytest.raises(ConnectionNotFound):
            call()
    repository.add_connection("alice", linked_connection())
    repository.delete_user("alice")
    repository.add_user("alice")
    assert repository.list_connections("alice") == []


def new_job(job_id: str, connection_id: str = "conn1") -> SyncJob:
    return SyncJob(job_id, connection_id, created_at=datetime(2026, 11, 25, 10, tzinfo=UTC))


def test_a_connection_has_at_most_one_unfinished_job_whoever_asks(repository: Store) -> None:
    repository.add_connection("alice", linked_connection("conn1"))
    with ThreadPoolExecutor(8) as pool:
        opened = list(
            pool.map(lambda n: repository.open_job("alice", new_job(f"job{n}")), range(8))
        )
    created = [job for job, new in opened if new]
    assert len(created) == 1
    assert {job.id for job, _ in opened} == {created[0].id}
    assert repository.get_job("alice", created[0].id) == created[0]

    finished_at = datetime(2026, 11, 25, 10, 1, tzinfo=UTC)
    done = repository.modify_job(
        "alice",
        created[0].id,
        lambda job: replace(
            job,
            status=JobStatus.SUCCEEDED,
            accounts_added=4,
            finished_at=finished_at,
            attempts=2,
            lease_until=finished_at + timedelta(seconds=30),
        ),
    )
    assert repository.get_job("alice", done.id) == done
    # Once it finished, the next request is a job of its own.
    again, new = repository.open_job("alice", new_job("later"))
    assert (again.id, new) == ("later", True)
    failed = repository.modify_job(
        "alice",
        "later",
        lambda job: replace(
            job, status=JobStatus.FAILED, error=SyncFailure("RATE_LIMIT", "too many requests")
        ),
    )
    assert repository.get_job("alice", "later").error == failed.error


def test_jobs_of_missing_things_and_a_deleted_connection(repository: Store) -> None:
    with pytest.raises(ConnectionNotFound):
        repository.open_job("alice", new_job("j1", "nope"))
    with pytest.raises(UserNotFound):
        repository.open_job("dave", new_job("j1"))
    with pytest.raises(SyncJobNotFound):
        repository.get_job("alice", "nope")
    with pytest.raises(SyncJobNotFound):
        repository.modify_job("alice", "nope", lambda job: job)
    repository.add_connection("alice", linked_connection("conn1"))
    repository.open_job("alice", new_job("j1"))
    repository.delete_connection("alice", "conn1")
    with pytest.raises(SyncJobNotFound):
        repository.get_job("alice", "j1")


def finish_job(repository: Store, job_id: str, created_at: datetime, connection_id: str) -> None:
    repository.open_job("alice", SyncJob(job_id, connection_id, created_at=created_at))
    finished_at = created_at + timedelta(minutes=1)
    repository.modify_job(
        "alice",
        job_id,
        lambda job: replace(job, status=JobStatus.SUCCEEDED, finished_at=finished_at),
    )


def test_pruning_takes_jobs_finished_before_the_cutoff_but_each_connections_latest(
    repository: Store,
) -> None:
    first, day = datetime(2026, 11, 1, tzinfo=UTC), timedelta(days=1)
    for connection_id in ("conn1", "conn2"):
        repository.add_connection("alice", linked_connection(connection_id))
    for n in range(5):
        finish_job(repository, f"job{n}", first + n * day, "conn1")
    finish_job(repository, "only", first, "conn2")  # old, but its connection's latest
    cutoff = first + 3 * day + timedelta(hours=1)  # job0 to job3 finished before it
    # In batches of at most `limit` of each kind, until nothing is left to take.
    assert [repository.prune(first, cutoff, 3) for _ in range(3)] == [3, 1, 0]
    for gone in ("job0", "job1", "job2", "job3"):
        with pytest.raises(SyncJobNotFound):
            repository.get_job("alice", gone)
    assert repository.get_job("alice", "job4").status is JobStatus.SUCCEEDED
    assert repository.get_job("alice", "only").status is JobStatus.SUCCEEDED
    # An unfinished job is never taken, and makes the one before it no longer the latest.
    repository.open_job("alice", SyncJob("open", "conn2", created_at=first + 9 * day))
    assert repository.prune(first, first + 30 * day, 10) == 1  # only; job4 is conn1's latest
    assert repository.get_job("alice", "open").status is JobStatus.QUEUED
    assert repository.get_job("alice", "job4").status is JobStatus.SUCCEEDED


def test_pruning_takes_keys_and_deliveries_that_have_expired(repository: Store) -> None:
    noon = datetime(2030, 11, 25, 12, tzinfo=UTC)
    while repository.prune(noon, noon - timedelta(days=30), 100):
        pass  # what other tests left on a shared database (keys and deliveries outlive users)
    lease = noon + timedelta(seconds=60)
    for key, expires in (("short", noon + timedelta(hours=1)), ("long", noon + timedelta(days=1))):
        repository.claim_key("alice", key, "f1", "h1", noon, lease, expires)
        assert repository.first_delivery(key, noon, expires)
    later = noon + timedelta(hours=2)
    assert repository.prune(later, noon - timedelta(days=30), 10) == 2  # short's key, delivery
    kept = repository.claim_key("alice", "long", "another request", "h2", later, later, later)
    assert kept.state is KeyState.MISMATCH  # still there
    assert not repository.first_delivery("long", later, later + timedelta(days=1))
    assert repository.first_delivery("short", later, later + timedelta(days=1))
    assert repository.prune(later, noon - timedelta(days=30), 10) == 0


def test_an_idempotency_key_is_claimed_once_answered_then_forgotten(repository: Store) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    lease, day = noon + timedelta(seconds=60), noon + timedelta(hours=24)

    def claim(
        fingerprint: str = "f1", at: datetime = noon, key: str = "k1", holder: str = "h1"
    ) -> KeyClaim:
        return repository.claim_key(
            "alice", key, fingerprint, holder, at, at + timedelta(seconds=60), day
        )

    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda n: claim(holder=f"h{n}").state, range(8)))
    assert states.count(KeyState.NEW) == 1
    assert set(states) == {KeyState.NEW, KeyState.IN_PROGRESS}
    holder = f"h{states.index(KeyState.NEW)}"
    assert claim("f2").state is KeyState.MISMATCH
    # Another owner's key of the same name is another key.
    assert repository.claim_key("bob", "k1", "f9", "h9", noon, lease, day).state is KeyState.NEW
    answer = RecordedAnswer(201, b'{"id":"x"}', (("Location", "/x"), ("Content-Type", "a/b")))
    # Only its holder records the answer, once.
    assert not repository.complete_key("alice", "k1", "someone-else", answer)
    assert claim().state is KeyState.IN_PROGRESS
    assert repository.complete_key("alice", "k1", holder, answer)
    assert not repository.complete_key("alice", "k1", holder, answer)
    assert claim() == KeyClaim(KeyState.DONE, answer)
    assert claim("f2").state is KeyState.MISMATCH
    # A request that died: its key is free again once its lease is over, and not before; the
    # one that took it over holds it, and the dead one's answer, had it one, is not recorded.
    assert claim(key="k2").state is KeyState.NEW
    assert claim(key="k2", at=noon + timedelta(seconds=30)).state is KeyState.IN_PROGRESS
    assert claim(key="k2", at=noon + timedelta(seconds=61), holder="h2").state is KeyState.NEW
    assert not repository.complete_key("alice", "k2", "h1", answer)
    repository.release_key("alice", "k2", "h1")  # not its key any more: nothing happens
    assert claim(key="k2", at=noon + timedelta(seconds=62)).state is KeyState.IN_PROGRESS
    # A released key (its request failed on the way) is free at once, answered or not.
    repository.release_key("alice", "k2", "h2")
    assert claim(key="k2", holder="h3").state is KeyState.NEW
    assert repository.complete_key("alice", "k2", "h3", answer)
    repository.release_key("alice", "k2", "h3")
    assert claim(key="k2").state is KeyState.NEW
    # After its day, a key is forgotten, answer and all.
    assert claim("f2", at=day).state is KeyState.NEW


def test_writes_in_a_unit_of_work_commit_together_or_not_at_all(repository: Store) -> None:
    noon = datetime(2026, 11, 25, 12, tzinfo=UTC)
    day = noon + timedelta(hours=24)
    if isinstance(repository, InMemoryAccountRepository):
        pytest.skip("the in-memory store takes no part: a crash of its process takes it all")
    answer = RecordedAnswer(201, b"{}", ())
    repository.claim_key("carol", "k1", "f1", "h1", noon, day, day)

    def effect_and_answer_then_a_crash() -> None:
        with unit_of_work():
            repository.add_account("carol", account("loan", "l1"))
            assert [found.id for found in repository.list_accounts("carol")] == ["l1"]
            assert repository.complete_key("carol", "k1", "h1", answer)
            raise RuntimeError("the process dies here")

    with pytest.raises(RuntimeError):
        effect_and_answer_then_a_crash()
    assert repository.list_accounts("carol") == []
    assert repository.claim_key("carol", "k1", "f1", "h2", noon, day, day).state is (
        KeyState.IN_PROGRESS
    )
    sent: list[str] = []
    with unit_of_work():
        repository.add_account("carol", account("loan", "l2"))
        after_commit(lambda: sent.append(repr(repository.list_accounts("carol"))))
        assert sent == []
        assert repository.complete_key("carol", "k1", "h1", answer)
    assert [found.id for found in repository.list_accounts("carol")] == ["l2"]
    assert repository.claim_key("carol", "k1", "f1", "h2", noon, day, day) == KeyClaim(
        KeyState.DONE, answer
    )
    assert len(sent) == 1
    assert "l2" in sent[0]  # run after the commit, whose account it sees


def test_a_user_holds_at_most_the_limit_whoever_adds_at_once(repository: Store) -> None:
    # carol has none; 8 threads add 12 accounts under a limit of 5: exactly 5 are kept.
    def add(number: int) -> bool:
        try:
            repository.add_account("carol", account("credit", f"c{number}"), limit=5)
        except TooManyAccounts:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        added = list(pool.map(add, range(12)))
    assert added.count(True) == 5
    assert len(repository.list_accounts("carol")) == 5
    # A sync that would pass the limit stores nothing; one that fits is stored.
    repository.add_connection("carol", linked_connection("conn1"))
    revision = repository.user_revision("carol")
    with pytest.raises(TooManyAccounts):
        repository.apply_sync("carol", "conn1", [from_sync("e1", 1)], limit=5)
    assert len(repository.list_accounts("carol")) == 5
    assert repository.user_revision("carol") == revision
    assert repository.apply_sync("carol", "conn1", [from_sync("e1", 1)], limit=6) == SyncOutcome(
        1, 0, 0
    )


TODAY = datetime.now(UTC).date()


def history(repository: Store, account_id: str, user_id: str = "alice") -> list[Point]:
    """Everything recorded of the account."""
    far = TODAY - timedelta(days=3650)
    return repository.balance_history(user_id, far, TODAY, account_id).get(account_id, [])


def test_every_change_of_a_balance_is_its_balance_that_day(repository: Store) -> None:
    # Seeded accounts start their history today.
    assert history(repository, "a1") == [(TODAY, ALICE[1].balance)]
    new = replace(account("savings", "s1"), balance=Decimal("10.50"))
    repository.add_account("alice", new)
    assert history(repository, "s1") == [(TODAY, Decimal("10.50"))]
    repository.modify_account("alice", "s1", lambda found: replace(found, nickname="Rainy"))
    repository.modify_account("alice", "s1", lambda found: replace(found, balance=Decimal(11)))
    assert history(repository, "s1") == [(TODAY, Decimal(11))]  # the latest of a day wins
    # A write that gives the day its balance was true records it on that day.
    week_ago = datetime.now(UTC) - timedelta(days=7)
    repository.modify_account(
        "alice", "s1", lambda found: replace(found, balance=Decimal(9), balance_as_of=week_ago)
    )
    assert history(repository, "s1") == [(week_ago.date(), Decimal(9)), (TODAY, Decimal(11))]
    # Entered by hand for a past day, then taken back.
    repository.set_balance("alice", "s1", TODAY - timedelta(days=30), Decimal(5))
    assert history(repository, "s1")[0] == (TODAY - timedelta(days=30), Decimal(5))
    assert repository.delete_balance("alice", "s1", TODAY - timedelta(days=30)) is True
    assert repository.delete_balance("alice", "s1", TODAY - timedelta(days=30)) is False
    # The history goes with its account: the same id later starts afresh.
    repository.delete_account("alice", "s1")
    assert history(repository, "s1") == []
    repository.add_account("alice", replace(new, balance=Decimal(1)))
    assert history(repository, "s1") == [(TODAY, Decimal(1))]
    assert history(repository, "s1", "dave") == []
    with pytest.raises(AccountNotFound):
        repository.set_balance("bob", "s1", TODAY, Decimal(1))


def test_a_sync_records_balances_on_their_day_and_once(repository: Store) -> None:
    repository.add_connection("alice", linked_connection("conn1"))
    as_of = datetime.now(UTC) - timedelta(days=2)
    synced = replace(from_sync("e1", 10), balance_as_of=as_of)
    repository.apply_sync("alice", "conn1", [synced])
    assert history(repository, "sync-e1") == [(as_of.date(), Decimal(10))]
    repository.apply_sync("alice", "conn1", [replace(synced, id="again")])  # delivered twice
    assert history(repository, "sync-e1") == [(as_of.date(), Decimal(10))]
    later = replace(synced, balance=Decimal(12), balance_as_of=datetime.now(UTC))
    repository.apply_sync("alice", "conn1", [later])
    assert history(repository, "sync-e1") == [(as_of.date(), Decimal(10)), (TODAY, Decimal(12))]
    repository.delete_connection("alice", "conn1")
    repository.add_connection("alice", linked_connection("conn1"))
    repository.apply_sync("alice", "conn1", [later])
    assert history(repository, "sync-e1") == [(TODAY, Decimal(12))]  # nothing of before


def test_a_range_of_history_begins_with_the_balance_standing_at_its_start(
    repository: Store,
) -> None:
    repository.add_account("alice", replace(account("savings", "s1"), balance=Decimal(1)))
    repository.add_account("alice", replace(account("loan", "l1"), balance=Decimal(7)))
    for days_ago, balance in [(40, 10), (30, 20), (20, 30), (10, 40)]:
        repository.set_balance("alice", "s1", TODAY - timedelta(days=days_ago), Decimal(balance))
    repository.set_balance("alice", "l1", TODAY - timedelta(days=25), Decimal(70))
    start, end = TODAY - timedelta(days=25), TODAY - timedelta(days=10)
    found = repository.balance_history("alice", start, end)
    assert found["s1"] == [
        (TODAY - timedelta(days=30), Decimal(20)),  # what stood on `start`
        (TODAY - timedelta(days=20), Decimal(30)),
        (TODAY - timedelta(days=10), Decimal(40)),
    ]
    assert found["l1"] == [(start, Decimal(70))]  # recorded on `start` itself
    assert "a1" not in found  # seeded today, after the range
    assert repository.balance_history("alice", start, end, "l1") == {"l1": found["l1"]}
    assert repository.balance_history("bob", start, end, "s1") == {}
    # Nothing before the first record: a range that ends before it has none.
    assert repository.balance_history("alice", start, TODAY - timedelta(days=41), "s1") == {}


def test_an_account_merged_into_another_gives_it_its_history_and_goes(
    repository: Store,
) -> None:
    repository.add_account("alice", replace(account("savings", "by-hand"), balance=Decimal(5)))
    repository.add_account("alice", replace(account("savings", "synced"), balance=Decimal(7)))
    for days_ago, balance in [(30, 1), (20, 2)]:
        repository.set_balance(
            "alice", "by-hand", TODAY - timedelta(days=days_ago), Decimal(balance)
        )
    repository.set_balance("alice", "synced", TODAY - timedelta(days=20), Decimal(9))
    revision = repository.user_revision("alice")

    def refuse(into: Account, taken: Account) -> Account:
        raise NotMergeable("no")

    with pytest.raises(NotMergeable):
        repository.merge_account("alice", "synced", "by-hand", refuse)
    assert repository.user_revision("alice") == revision  # nothing changed
    assert history(repository, "by-hand")[0] == (TODAY - timedelta(days=30), Decimal(1))

    merged = repository.merge_account(
        "alice", "synced", "by-hand", lambda into, taken: replace(into, nickname=taken.id)
    )
    assert (merged.id, merged.nickname, merged.balance) == ("synced", "by-hand", Decimal(7))
    assert repository.get_account("alice", "synced") == merged
    with pytest.raises(AccountNotFound):
        repository.get_account("alice", "by-hand")
    assert history(repository, "synced") == [
        (TODAY - timedelta(days=30), Decimal(1)),  # the taken one's, on a day it had none
        (TODAY - timedelta(days=20), Decimal(9)),  # its own, where both had one
        (TODAY, Decimal(7)),
    ]
    assert history(repository, "by-hand") == []
    assert repository.user_revision("alice") != revision
    with pytest.raises(AccountNotFound):
        repository.merge_account("alice", "synced", "by-hand", lambda into, _: into)
