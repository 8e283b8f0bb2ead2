"""Reads with 0, 1 and 2 streaming replicas, through PgBouncer, and what a dead replica costs.

    .venv/bin/python -m bench.replicas [--users 20000] [--duration 10] [--connections 32]
        [--redis-cluster]

Starts a PostgreSQL primary with two standbys on free ports (harness/engines.py), loads 2,000 users
with ten accounts each, and serves them with the project's gunicorn.conf.py, revisions on Redis (the
machine's, or a Redis Cluster of its own with --redis-cluster) and the response cache off, so that
every list is read from a database. wrk asks for random users' lists. Then: how far behind the
standby replays a write, what the WAL-position check costs a read, and how long reads take while
a standby is killed, and while one stops answering (SIGSTOP, as a host that is gone).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager

import httpx
import psycopg

from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import upgrade
from app.adapters.storage.revisions import RedisRevisions
from app.services.repositories import new_revision
from bench import wrk
from bench.postgres_scale import load
from harness import children_of
from harness.engines import PostgresServer, pgbouncer, postgres_with_standbys, redis_cluster
from harness.gunicorn import DATABASE_WORKERS, serving


def base_env(primary: str, redis_url: str, replicas: list[str]) -> dict[str, str]:
    return {
        "ACCOUNTS_DATABASE_URL": primary,
        "ACCOUNTS_READ_REPLICA_URL": ",".join(replicas),
        "ACCOUNTS_REDIS_URL": redis_url,
        "ACCOUNTS_REVISIONS": "redis",
        "ACCOUNTS_REVISIONS_NAMESPACE": secrets.token_hex(4),
        "ACCOUNTS_CACHE_MAX_BYTES": "0",
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
        "ACCOUNTS_SEED_DATA": "",
    }


@contextmanager
def host(env: Mapping[str, str]) -> Iterator[str]:
    with serving(env) as (url, server):
        server.wait_for_workers(DATABASE_WORKERS)
        for user in range(50):  # every worker's pools and watch warmed up
            httpx.get(f"{url}/users/u{user}/accounts", timeout=10)
        time.sleep(1)
        yield url


def reads_by_source(url: str) -> dict[str, float]:
    """accounts_replica_reads_total, by source, as the host's /metrics says."""
    sources: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("accounts_replica_reads_total{"):
            source = line.split('"')[1]
            sources[source] = sources.get(source, 0) + float(line.rsplit(" ", 1)[1])
    return sources


def share_on_replicas(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """The share of the reads between two readings of reads_by_source that went to replicas."""
    read = {source: count - before.get(source, 0) for source, count in after.items()}
    on_replicas = sum(count for source, count in read.items() if source != "primary")
    return on_replicas / (sum(read.values()) or 1)


def throughput(env: Mapping[str, str], args: argparse.Namespace) -> str:
    """wrk's figures for random users' lists, after a pass as long that reads every user at
    least once (a user's first read in a day goes to the primary, which notes where its WAL
    stands for the reads after: app/adapters/storage/replicas.py)."""
    users = {"USERS": str(args.users)}
    with host(env) as url:
        wrk.run(url, args.connections, args.duration, "random_users.lua", users)
        before = reads_by_source(url)
        result = wrk.run(url, args.connections, args.duration, "random_users.lua", users)
        on_replicas = share_on_replicas(before, reads_by_source(url))
        return f"{result}, {on_replicas:.0%} of reads on replicas"


def replay_lag(primary: PostgresServer, standby: PostgresServer, writes: int = 50) -> str:
    """How long the standby takes to replay a committed write, by polling it."""
    lags = []
    with (
        psycopg.connect(primary.url, autocommit=True) as writer,
        psycopg.connect(standby.url, autocommit=True) as reader,
    ):
        for _ in range(writes):
            writer.execute("UPDATE users SET revision = %s WHERE id = 'u0'", [new_revision()])
            row = writer.execute("SELECT pg_current_wal_lsn()").fetchone()
            assert row is not None
            started = time.perf_counter()
            while True:
                replayed = reader.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [row[0]]
                ).fetchone()
                if replayed and replayed[0]:
                    break
            lags.append((time.perf_counter() - started) * 1000)
    lags.sort()
    return f"median {statistics.median(lags):.2f} ms, worst {lags[-1]:.2f} ms of {writes} writes"


def position_check_cost(redis_url: str, calls: int = 5000) -> str:
    """What a read pays to learn the user's WAL position: one board lookup."""
    board = RedisRevisions(redis_url, 1.0, secrets.token_hex(4))
    board.note_position("u1", 1)
    started = time.perf_counter()
    for _ in range(calls):
        board.position("u1")
    each = (time.perf_counter() - started) / calls * 1e6
    board.close()
    return f"{each:.0f} µs per read (one Redis round trip, on misses only)"


def reads_around(
    url: str, event: Callable[[], object], after: float = 5, before: float = 2
) -> tuple[int, int, float]:
    """Random users' lists read through `url` from 8 threads, `event` happening `before` seconds
    into them: how many reads answered in the `after` seconds after it, how many of those were
    not 200, and the slowest of them in milliseconds."""
    slowest, statuses, running = [0.0], list[int](), threading.Event()
    running.set()

    def read() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            n = 0
            while running.is_set():
                n += 1
                started = time.perf_counter()
                status = client.get(f"/users/u{n % 500}/accounts").status_code
                slowest[0] = max(slowest[0], time.perf_counter() - started)
                statuses.append(status)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(before)
    slowest[0], counted = 0.0, len(statuses)
    event()
    time.sleep(after)
    running.clear()
    for thread in threads:
        thread.join()
    answered = statuses[counted:]
    return len(answered), sum(1 for status in answered if status != 200), slowest[0] * 1000


def reads_while(env: Mapping[str, str], standby: PostgresServer, how: str) -> str:
    """Reads from 8 threads while the standby is killed (or stopped): the slowest, and errors."""
    processes: list[int] = []

    def stop() -> None:
        if how == "killed":
            standby.kill()
            return
        pid = int((standby.folder / "postmaster.pid").read_text().split()[0])
        processes.extend([pid, *children_of(pid)])  # its backends too, the service's included
        for process in processes:
            os.kill(process, signal.SIGSTOP)

    with host(env) as url:
        count, errors, slowest = reads_around(url, stop)
    for process in processes:
        os.kill(process, signal.SIGCONT)
    return f"{count} reads in the 5 s after, {errors} not 200, slowest {slowest:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis-cluster", action="store_true")
    args = parser.parse_args()
    with ExitStack() as running:
        primary, standbys = running.enter_context(postgres_with_standbys(2))
        redis_url = (
            running.enter_context(redis_cluster()).url
            if args.redis_cluster
            else "redis://127.0.0.1:6379/0"
        )
        engine = make_engine(primary.url)
        upgrade(engine)
        engine.dispose()
        load(primary.url, args.users, 10)
        time.sleep(2)
        print(f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, Redis {redis_url}")
        urls = [standby.url for standby in standbys]
        for count in (0, 1, 2):
            env = base_env(primary.url, redis_url, urls[:count])
            print(f"random users' lists, {count} replicas: {throughput(env, args)}")
        with pgbouncer("postgres", primary.port) as pooled:
            env = {
                **base_env(pooled, redis_url, []),
                "ACCOUNTS_DB_TRANSACTION_POOLING": "true",
            }
            print(f"random users' lists, through PgBouncer: {throughput(env, args)}")
        print(f"standby replay of a committed write: {replay_lag(primary, standbys[0])}")
        print(f"WAL-position check: {position_check_cost(redis_url)}")
        env = base_env(primary.url, redis_url, urls[:1])
        print(f"standby stopped (SIGSTOP): {reads_while(env, standbys[0], 'stopped')}")
        print(f"standby killed (SIGKILL): {reads_while(env, standbys[0], 'killed')}")


if __name__ == "__main__":
    main()
