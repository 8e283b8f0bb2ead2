"""Chapter 7b: the design's last step on servers of the chapter's own, started on free ports: a
streaming standby that reads stay exact behind, PgBouncer in transaction mode, a Redis Cluster."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from bench.walkthrough import dataset
from bench.walkthrough.asking import answer, timed, until
from bench.walkthrough.outcome import CannotRun, expect, say
from bench.walkthrough.standby import HOST_USERS, read_from_the_standby
from bench.walkthrough.walk import LIST, Walk
from harness.engines import (
    PostgresServer,
    RedisCluster,
    missing,
    pgbouncer,
    postgres_with_standbys,
)
from harness.engines import redis_cluster as start_redis_cluster

#: What the chapter starts its servers with, from Debian's packages.
HOSTS_PROGRAMS = ("initdb", "pg_basebackup", "pg_ctl", "pgbouncer", "redis-server", "redis-cli")


def hosts(walk: Walk) -> None:
    say("7b. The data on more hosts: a streaming standby, PgBouncer, a Redis Cluster, started here")
    if lacking := missing(*HOSTS_PROGRAMS):
        raise CannotRun(f"not installed: {', '.join(lacking)} (see docs/walkthrough.md)")
    primary, standby = replicated(walk)
    board = {
        "ACCOUNTS_REVISIONS": "redis",
        "ACCOUNTS_REDIS_URL": walk.redis.geturl(),
        "ACCOUNTS_REVISIONS_NAMESPACE": walk.namespace,
    }
    read_from_the_standby(walk, primary, standby, board)
    pooled_by_pgbouncer(walk, primary, board)
    clustered(walk, primary, board)


def replicated(walk: Walk) -> tuple[PostgresServer, PostgresServer]:
    """A PostgreSQL primary and a streaming standby, started on free ports, with HOST_USERS
    synthetic users and the seed."""
    started = time.monotonic()
    primary, [standby] = walk.servers.enter_context(postgres_with_standbys(1))
    dataset.populate(walk, primary.url, HOST_USERS)
    say(
        f"  a PostgreSQL primary (port {primary.port}) and its streaming standby (port "
        f"{standby.port}, pg_basebackup -R), started and loaded in "
        f"{time.monotonic() - started:.1f} s"
    )
    return primary, standby


def pooled_by_pgbouncer(walk: Walk, primary: PostgresServer, board: Mapping[str, str]) -> None:
    pooled = walk.servers.enter_context(pgbouncer("postgres", primary.port))
    refused = walk.command("db", "upgrade", "--database-url", pooled)
    expect(refused.process.wait() != 0, "PgBouncer refuses the startup options")
    say(f"  PgBouncer, without ACCOUNTS_DB_TRANSACTION_POOLING: {refused.tail().splitlines()[-1]}")
    env = {
        "ACCOUNTS_DATABASE_URL": pooled,
        "ACCOUNTS_DB_TRANSACTION_POOLING": "true",
        "ACCOUNTS_CACHE_MAX_BYTES": "0",
        **board,
    }
    service = walk.service(env)
    walk.random_users(
        "PgBouncer in transaction mode, ACCOUNTS_DB_TRANSACTION_POOLING=true: random users' lists",
        service,
        HOST_USERS,
    )
    service.retire()
    # Again through a proxy, which can take PgBouncer away and bring it back.
    proxied, proxy = walk.cut_off("PgBouncer", pooled)
    service = walk.service({**env, "ACCOUNTS_DATABASE_URL": proxied})
    proxy.stop()
    read, took = timed(lambda: httpx.get(f"{service.url}{LIST}", timeout=30))
    say(f"  PgBouncer cut off: the list answers {answer(read)} in {took:.0f} ms")
    expect(read.status_code == 503, "a 503 while PgBouncer is away")
    proxy.start()
    back = until(lambda: httpx.get(f"{service.url}{LIST}").status_code == 200, 30, "200 again")
    say(f"  PgBouncer back: the list answers 200 again after {back:.1f} s")
    service.retire()


def clustered(walk: Walk, primary: PostgresServer, board: Mapping[str, str]) -> None:
    one_redis = {"ACCOUNTS_DATABASE_URL": primary.url, "ACCOUNTS_CACHE_BACKEND": "redis", **board}
    service = walk.service(one_redis)
    walk.load("one Redis, the response cache on it: user123's list", f"{service.url}{LIST}")
    service.retire()
    started = time.monotonic()
    cluster: RedisCluster = walk.servers.enter_context(start_redis_cluster())
    say(f"  a Redis Cluster of three masters, started in {time.monotonic() - started:.1f} s")
    service = walk.service({**one_redis, "ACCOUNTS_REDIS_URL": cluster.url})
    walk.load("ACCOUNTS_REDIS_URL=redis+cluster://…: user123's list", f"{service.url}{LIST}")
    master, elsewhere = masters_of(cluster)
    account = f"{service.url}{LIST}/acc1"
    other = f"{service.url}/users/{elsewhere}/accounts/{elsewhere}-acc1"
    killed = time.monotonic()
    cluster.kill_node(master)
    read, took = timed(lambda: httpx.get(f"{service.url}{LIST}", timeout=30))
    written = httpx.patch(account, json={"balance": 1})
    written_elsewhere = httpx.patch(other, json={"balance": 1})
    say(
        f"  the master of user123's keys killed: their list {answer(read)} from PostgreSQL "
        f"({took:.0f} ms), a write {answer(written)}; {elsewhere}'s write "
        f"(another master) {answer(written_elsewhere)}"
    )
    expect(read.status_code == 200 and written.status_code == 503, "reads go on, writes wait")
    until(lambda: cluster.state() != "ok", 30, "the cluster to notice")
    failed = time.monotonic() - killed
    read = httpx.get(f"{service.url}/users/{elsewhere}/accounts")
    refused = httpx.patch(other, json={"balance": 2})
    say(
        f"  {failed:.1f} s after the kill the other masters declare it failed: {elsewhere}'s "
        f"list {answer(read)}, a write {answer(refused)} too (every slot is refused)"
    )
    expect(read.status_code == 200 and refused.status_code == 503, "a cluster down: writes wait")
    cluster.start_node(master)
    back = until(lambda: httpx.patch(account, json={"balance": 3}).status_code == 200, 60, "back")
    listed = httpx.get(f"{service.url}{LIST}").json()["accounts"]
    balance = next(entry["balance"] for entry in listed if entry["id"] == "acc1")
    say(f"  the master started again: writes answer 200 after {back:.1f} s; the list: {balance}")
    expect(balance == 3, "the list is exact after the master's return")
    service.retire()


def masters_of(cluster: RedisCluster) -> tuple[int, str]:
    """The port of the master holding user123's keys, and a user whose keys are elsewhere."""
    master = cluster.master_of("{user123}")
    elsewhere = next(f"u{n}" for n in range(HOST_USERS) if cluster.master_of(f"{{u{n}}}") != master)
    return master, elsewhere
