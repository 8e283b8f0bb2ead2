"""Two gunicorn hosts sharing a PostgreSQL primary, its streaming standby (held seconds behind) and
a Redis Cluster, all started here: a write on one host is never stale on the other, reads really
go to the standby, and a cluster master and then the standby killed under load cost at most a
503, never a stale read or a 500 (the rules: app/adapters/storage/replicas.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import psycopg
import pytest

from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import upgrade
from harness.engines import PostgresServer, RedisCluster, missing, postgres_with_standbys
from harness.gunicorn import DATABASE_WORKERS, serving
from tests.databases import unavailable
from tests.samples import valid_account
from tests.waiting import eventually

USERS = [f"replica-user-{n}" for n in range(12)]
APPLY_DELAY = "2s"


class Hosts:
    def __init__(self, primary: PostgresServer, standby: PostgresServer, urls: list[str]) -> None:
        self.primary, self.standby, self.urls = primary, standby, urls
        self.paths: dict[str, str] = {}


@pytest.fixture(scope="module")
def hosts(redis_cluster: RedisCluster) -> Iterator[Hosts]:
    if lacking := missing("initdb", "pg_basebackup", "runuser"):
        unavailable(f"not installed: {', '.join(lacking)}")
    with postgres_with_standbys() as (primary, [standby]), ExitStack() as running:
        engine = make_engine(primary.url)
        upgrade(engine)
        engine.dispose()
        env = {
            "ACCOUNTS_DATABASE_URL": primary.url,
            "ACCOUNTS_READ_REPLICA_URL": standby.url,
            "ACCOUNTS_REDIS_URL": redis_cluster.url,
            "ACCOUNTS_REVISIONS": "redis",
            "ACCOUNTS_CACHE_BACKEND": "redis",
            "ACCOUNTS_AUTH": "off",
            "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
            "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
            "ACCOUNTS_SEED_DATA": "seed_data.json",
        }
        urls = []
        for _ in range(2):
            url, server = running.enter_context(serving(env))
            server.wait_for_workers(DATABASE_WORKERS)
            urls.append(url)
        found = Hosts(primary, standby, urls)
        for user_id in USERS:
            assert httpx.post(f"{urls[0]}/users", json={"id": user_id}).status_code == 201
            account = valid_account("savings", balance=0)
            created = httpx.post(f"{urls[0]}/users/{user_id}/accounts", json=account)
            assert created.status_code == 201, created.text
            found.paths[user_id] = f"/users/{user_id}/accounts/{account['id']}"
        standby.configure(recovery_min_apply_delay=APPLY_DELAY)
        yield found


def listed_balance(base: str, user_id: str) -> tuple[int, int]:
    """(status, balance) of the user's list as one host answers it (-1 when not 200)."""
    answer = httpx.get(f"{base}/users/{user_id}/accounts", timeout=10)
    return answer.status_code, (
        answer.json()["accounts"][0]["balance"] if answer.is_success else -1
    )


def standby_reads(standby: PostgresServer) -> int:
    """Scans of the accounts table the standby itself has run, as far as its backends have
    reported them."""
    with psycopg.connect(standby.url, autocommit=True) as connection:
        found = connection.execute(
            "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables "
            "WHERE relname = 'accounts'"
        ).fetchone()
    return int(found[0]) if found else 0


# A backend reports its counters at most once a second; what a burst of reads leaves pending it
# reports when it has been idle for PGSTAT_IDLE_INTERVAL, 10 s (PostgreSQL 15's pgstat.c).
STATS_REPORTED_WITHIN = 15.0


def test_a_write_on_one_host_is_never_stale_on_the_other_with_the_standby_behind(
    hosts: Hosts,
) -> None:
    writer, reader = hosts.urls
    for round_ in range(1, 41):
        user_id = USERS[round_ % len(USERS)]
        patched = httpx.patch(f"{writer}{hosts.paths[user_id]}", json={"balance": round_})
        assert patched.status_code == 200, patched.text
        assert listed_balance(reader, user_id) == (200, round_)
        assert httpx.get(f"{reader}{hosts.paths[user_id]}").json()["balance"] == round_
        assert httpx.get(f"{reader}/users/{user_id}").status_code == 200


def test_reads_of_users_not_written_lately_go_to_the_standby(hosts: Hosts) -> None:
    time.sleep(3)  # past the standby's delay: it has every write by now
    before = standby_reads(hosts.standby)
    for base in hosts.urls:
        for user_id in USERS:
            for path in (hosts.paths[user_id], f"/users/{user_id}"):
                assert httpx.get(f"{base}{path}").status_code == 200
    eventually(
        lambda: standby_reads(hosts.standby) >= before + len(USERS),
        STATS_REPORTED_WITHIN,
        every=0.25,
        why=lambda: f"the standby ran {standby_reads(hosts.standby) - before} of the reads",
    )
    metrics = httpx.get(f"{hosts.urls[0]}/metrics").text
    assert f'accounts_replica_reads_total{{source="127.0.0.1:{hosts.standby.port}"}}' in metrics


class Load:
    """One writer per user on the first host and readers on the second, each read checked against
    what was acknowledged before it was sent."""

    def __init__(self, hosts: Hosts) -> None:
        self.hosts = hosts
        self.acknowledged = dict.fromkeys(USERS, 0)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.stale: list[str] = []
        self.running = threading.Event()
        self.running.set()
        self.threads = [threading.Thread(target=self._write, args=(u,)) for u in USERS[:4]]
        self.threads += [threading.Thread(target=self._read) for _ in range(4)]
        for thread in self.threads:
            thread.start()

    def _write(self, user_id: str) -> None:
        value = 10_000
        with httpx.Client(base_url=self.hosts.urls[0], timeout=10) as client:
            while self.running.is_set():
                value += 1
                answer = client.patch(self.hosts.paths[user_id], json={"balance": value})
                self.statuses["write", answer.status_code] += 1
                if answer.status_code == 200:
                    self.acknowledged[user_id] = value

    def _read(self) -> None:
        with httpx.Client(base_url=self.hosts.urls[1], timeout=10) as client:
            n = 0
            while self.running.is_set():
                user_id = USERS[n % 4]
                n += 1
                floor = self.acknowledged[user_id]
                answer = client.get(f"/users/{user_id}/accounts")
                self.statuses["read", answer.status_code] += 1
                if answer.status_code == 200:
                    seen = answer.json()["accounts"][0]["balance"]
                    if seen < floor:
                        self.stale.append(f"{user_id}: {seen} after {floor} was acknowledged")

    def stop(self) -> None:
        self.running.clear()
        for thread in self.threads:
            thread.join(timeout=30)


def test_a_cluster_master_and_then_the_standby_killed_under_load(
    hosts: Hosts, redis_cluster: RedisCluster
) -> None:
    load = Load(hosts)
    try:
        time.sleep(1)
        master = redis_cluster.ports[2]
        redis_cluster.kill_node(master)
        time.sleep(3)
        redis_cluster.start_node(master)
        deadline = time.monotonic() + 30
        while redis_cluster.state() != "ok":
            assert time.monotonic() < deadline, "the cluster did not come back"
            time.sleep(0.2)
        time.sleep(2)
        hosts.standby.kill()
        killed = time.monotonic()
        time.sleep(4)
        during = Counter(load.statuses)
    finally:
        load.stop()
    assert not load.stale
    assert {status for _, status in load.statuses} <= {200, 503}, load.statuses
    assert during["read", 200] > 0
    # Back by itself: every write and read answers, the standby left out.
    for user_id in USERS:
        patched = httpx.patch(f"{hosts.urls[0]}{hosts.paths[user_id]}", json={"balance": 1})
        assert patched.status_code == 200
        assert listed_balance(hosts.urls[1], user_id) == (200, 1)
    assert time.monotonic() - killed < 30
    hosts.standby.start()
