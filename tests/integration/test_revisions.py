"""Revisions on a Redis board (app/adapters/storage/revisions.py): never older than an acknowledged
write, whenever Redis fails; on the real PostgreSQL, one Redis and a Redis Cluster.

Two boards on one namespace stand for two worker processes (or hosts) sharing the database."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from app import create_app
from app.adapters.pause import PAUSE_SECONDS
from app.adapters.redis_client import LazyRedis
from app.adapters.storage.revisions import RedisRevisions, RevisionBoardStore
from app.adapters.storage.sql import SqlAccountRepository
from app.domain.errors import StorageUnavailable, UserNotFound
from harness.tcp_proxy import TcpProxy
from tests.conftest import SEED_FILE
from tests.databases import emptied, migrated
from tests.integration.test_repository_contract import INITIAL, account


class Process:
    """One process's view: the shared database through its own board."""

    def __init__(
        self,
        database: SqlAccountRepository,
        redis_url: str,
        namespace: str,
        written_position: Callable[[], int] | None = None,
    ) -> None:
        self.board = RedisRevisions(redis_url, 1.0, namespace, written_position)
        self.store = RevisionBoardStore(database, self.board)
        self.database_reads = 0
        self._database = database

    def revision(self, user_id: str = "alice") -> int:
        """The revision as this process's readers get it, counting reads of the database."""

        def from_database() -> int:
            self.database_reads += 1
            return self._database.user_revision(user_id)

        return self.board.revision(user_id, from_database)


@pytest.fixture
def database(postgres_url: str) -> Iterator[SqlAccountRepository]:
    engine = migrated(postgres_url)
    store = SqlAccountRepository(engine)
    store.replace_all(INITIAL)
    yield store
    engine.dispose()


@pytest.fixture(params=["redis_url", "redis_cluster_url"])
def board_url(request: pytest.FixtureRequest) -> str:
    """One Redis, and a Redis Cluster."""
    url: str = request.getfixturevalue(request.param)
    return url


@pytest.fixture
def processes(database: SqlAccountRepository, board_url: str) -> tuple[Process, Process]:
    namespace = secrets.token_hex(8)
    return (
        Process(database, board_url, namespace),
        Process(database, board_url, namespace, database.written_position),
    )


def test_a_trusted_revision_costs_no_database_read(processes: tuple[Process, Process]) -> None:
    reader, _ = processes
    first = reader.revision()
    assert reader.database_reads == 1
    assert [reader.revision() for _ in range(5)] == [first] * 5
    assert reader.database_reads == 1


def test_every_acknowledged_write_is_seen_by_every_process(
    processes: tuple[Process, Process], database: SqlAccountRepository
) -> None:
    reader, writer = processes
    reader.revision()
    writer.store.add_account("alice", account("savings", "s1"))
    assert reader.revision() == database.user_revision("alice")
    writer.store.seed({"bob": [account("loan", "b2")]})  # a write to everyone at once
    bob = reader.revision("bob")
    assert bob == database.user_revision("bob")
    writer.store.replace_all({"bob": []})
    assert reader.revision("bob") != bob
    assert reader.revision("bob") == database.user_revision("bob")


def test_redis_failing_right_after_the_commit_leaves_readers_on_the_database(
    processes: tuple[Process, Process],
    database: SqlAccountRepository,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader, writer = processes
    before = reader.revision()
    mark = writer.board._marked

    def unmark_lost(key: str, change: int, field: str, position: str) -> None:
        if change < 0:
            raise redis.ConnectionError("lost between the commit and the unmark")
        mark(key, change, field, position)

    monkeypatch.setattr(writer.board, "_marked", unmark_lost)
    writer.store.add_account("alice", account("savings", "s1"))  # acknowledged
    after = database.user_revision("alice")
    assert after != before
    assert [reader.revision() for _ in range(3)] == [after] * 3
    assert reader.database_reads == 4  # the mark stays: every read goes to the database


def test_redis_unreachable_before_a_write_refuses_it_with_nothing_written(
    database: SqlAccountRepository,
) -> None:
    unreachable = RevisionBoardStore(database, RedisRevisions("redis://127.0.0.1:1/0", 0.2, "x"))
    before = database.export()
    with pytest.raises(StorageUnavailable):
        unreachable.add_account("alice", account("savings", "s1"))
    with pytest.raises(StorageUnavailable):
        unreachable.delete_user("alice")
    assert database.export() == before
    # Reads carry on from the database.
    assert unreachable.user_revision("alice") == database.user_revision("alice")


def test_a_reader_never_stores_a_revision_older_than_a_write_begun_during_its_read(
    processes: tuple[Process, Process], database: SqlAccountRepository
) -> None:
    reader, writer = processes

    def read_then_a_write_lands() -> int:
        old = database.user_revision("alice")
        writer.store.add_account("alice", account("savings", "s1"))
        return old

    old = reader.board.revision("alice", read_then_a_write_lands)
    assert old != database.user_revision("alice")
    assert reader.revision() == database.user_revision("alice")
    assert writer.revision() == database.user_revision("alice")


def test_a_reader_never_keeps_a_revision_older_than_a_write_to_everyone_begun_during_its_read(
    processes: tuple[Process, Process], database: SqlAccountRepository
) -> None:
    """On a cluster the user's hash and the global one are read apart: the epoch a revision is
    kept under is what stops it."""
    reader, writer = processes

    def read_then_a_reset_lands() -> int:
        old = database.user_revision("alice")
        writer.store.replace_all({"alice": [account("loan", "l9")]})
        return old

    old = reader.board.revision("alice", read_then_a_reset_lands)
    assert old != database.user_revision("alice")
    assert reader.revision() == database.user_revision("alice")


def test_a_write_leaves_where_the_wal_stood_once_it_was_done(
    processes: tuple[Process, Process], database: SqlAccountRepository
) -> None:
    reader, writer = processes
    # Nothing noted yet: only the primary can be trusted for alice, and where it stands is noted.
    assert reader.board.position("alice", database.written_position) is None
    noted = reader.board.position("alice")
    assert noted is not None
    with writer.board.writing("alice"):
        assert reader.board.position("alice") is None  # a write in progress: the primary
        database.add_account("alice", account("savings", "s1"))
    after = reader.board.position("alice")
    assert after is not None
    assert noted < after <= database.written_position()
    reader.board.note_position("alice", noted)  # a lower one changes nothing
    assert reader.board.position("alice") == after


def test_of_two_writes_the_higher_position_stays_whichever_unmarks_last(
    database: SqlAccountRepository, board_url: str
) -> None:
    namespace = secrets.token_hex(8)
    high, low = (
        Process(database, board_url, namespace, functools.partial(int, n)) for n in (2**40, 2**33)
    )
    high.board.note_position("alice", 1)
    with high.board.writing("alice"), low.board.writing("alice"):
        pass  # low unmarks first, then high
    with low.board.writing("alice"):
        pass
    assert high.board.position("alice") == 2**40


def test_a_write_whose_position_cannot_be_read_leaves_its_user_to_the_primary(
    database: SqlAccountRepository, board_url: str
) -> None:
    def lost() -> int:
        raise StorageUnavailable()

    namespace = secrets.token_hex(8)
    reader = Process(database, board_url, namespace)
    writer = Process(database, board_url, namespace, lost)
    reader.board.note_position("alice", database.written_position())
    writer.store.add_account("alice", account("savings", "s1"))
    assert reader.board.position("alice") is None  # the mark stays, for PENDING_SECONDS
    assert reader.revision() == database.user_revision("alice")


def test_a_redis_that_forgot_its_scripts_runs_them_again(
    processes: tuple[Process, Process], database: SqlAccountRepository, board_url: str
) -> None:
    reader, writer = processes
    reader.revision()
    client = LazyRedis(board_url, 1.0)
    client().script_flush()  # as a restarted Redis
    client.close()
    writer.store.add_account("alice", account("savings", "s1"))  # marked, by a script
    reads = reader.database_reads
    assert reader.revision() == database.user_revision("alice")
    assert reader.revision() == database.user_revision("alice")
    assert reader.database_reads == reads + 1  # the first stored it in Redis, by a script


def test_a_deleted_user_has_no_revision_anywhere(
    processes: tuple[Process, Process], database: SqlAccountRepository
) -> None:
    reader, writer = processes
    reader.revision()
    writer.store.delete_user("alice")
    with pytest.raises(UserNotFound, match="alice"):
        reader.revision()


def test_over_http_with_redis_gone_reads_stay_exact_and_writes_wait_for_it(
    postgres_url: str, redis_proxy: TcpProxy
) -> None:
    app = create_app(
        {
            "SEED_DATA": str(SEED_FILE),
            "DATABASE_URL": emptied(postgres_url),
            "AUTH": "off",
            "REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "REVISIONS": "redis",
            "REVISIONS_NAMESPACE": secrets.token_hex(8),
            "RATE_LIMIT_PER_ADDRESS": "",
            "RATE_LIMIT_PER_TOKEN": "",
        }
    )
    client: FlaskClient = app.test_client()
    path = "/users/user123/accounts/acc1"

    def balance() -> Any:
        listed = client.get("/users/user123/accounts").json
        assert listed is not None
        return next(a["balance"] for a in listed["accounts"] if a["id"] == "acc1")

    assert client.patch(path, json={"balance": 1}).status_code == 200
    assert balance() == 1
    redis_proxy.stop()
    refused = client.patch(path, json={"balance": 2})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert balance() == 1  # nothing written, and the list read from the database
    redis_proxy.start()
    time.sleep(PAUSE_SECONDS)  # Redis is left alone that long after it failed
    assert client.patch(path, json={"balance": 3}).status_code == 200
    assert balance() == 3
    app.extensions["accounts-service"].close()
