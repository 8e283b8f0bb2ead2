"""Chapter 7b's streaming standby: reads moved to it, exact behind it while it lags, and what its
death costs the reads under way."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from bench.replicas import (
    position_check_cost,
    reads_around,
    reads_by_source,
    replay_lag,
    share_on_replicas,
)
from bench.walkthrough.asking import fresh_after_writes
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.processes import Service
from bench.walkthrough.walk import Walk
from harness.engines import PostgresServer

#: Few enough users that reading each once first (what a day of use does) takes a second or two.
HOST_USERS = 1_000
#: How far behind the standby is held to show reads staying exact behind it.
APPLY_DELAY_SECONDS = 2


def read_from_the_standby(
    walk: Walk, primary: PostgresServer, standby: PostgresServer, board: Mapping[str, str]
) -> None:
    # The response cache off: every list is read from a database, the primary or the standby.
    direct = {"ACCOUNTS_DATABASE_URL": primary.url, "ACCOUNTS_CACHE_MAX_BYTES": "0", **board}
    alone = walk.service(direct)
    read_users(alone, HOST_USERS)
    walk.random_users("primary only: random users' lists", alone, HOST_USERS)
    alone.retire()
    replicas = {**direct, "ACCOUNTS_READ_REPLICA_URL": standby.url}
    reader = walk.service(replicas)
    read_users(reader, HOST_USERS)
    before = reads_by_source(reader.url)
    walk.random_users(
        "ACCOUNTS_READ_REPLICA_URL, 1 standby: random users' lists", reader, HOST_USERS
    )
    on_standby = share_on_replicas(before, reads_by_source(reader.url))
    say(f"    of which read on the standby: {on_standby:.0%} (each user was read once before)")
    expect(on_standby > 0.5, "reads go to the standby")
    say(f"  the standby replays a committed write: {replay_lag(primary, standby, 20)}")
    say(f"  the WAL-position check: {position_check_cost(board['ACCOUNTS_REDIS_URL'], 1000)}")

    standby.configure(recovery_min_apply_delay=f"{APPLY_DELAY_SECONDS}s")
    writer = walk.service(replicas)
    before = reads_by_source(reader.url)
    fresh = fresh_after_writes(writer, reader)
    written_on_standby = share_on_replicas(before, reads_by_source(reader.url))
    before = reads_by_source(reader.url)
    read_users(reader, 20)
    others_on_standby = share_on_replicas(before, reads_by_source(reader.url))
    say(
        f"  the standby held {APPLY_DELAY_SECONDS} s behind: 20 writes through one host, each "
        f"read back at once through another: {fresh} fresh, {written_on_standby:.0%} of them "
        f"read on the standby; 20 users not written: {others_on_standby:.0%} on the standby"
    )
    expect(fresh == 20, "no stale read behind the standby")
    standby_dies(reader, standby)
    writer.retire()
    reader.retire()


def read_users(service: Service, count: int) -> None:
    """The lists of users u0 to u{count-1}, once each: a user's first read goes to the primary,
    which notes where its WAL stands, so that the reads after may use a standby (as after a day
    of use)."""
    with httpx.Client(base_url=service.url, timeout=30) as client, ThreadPoolExecutor(16) as pool:
        statuses = set(pool.map(lambda n: client.get(f"/users/u{n}/accounts").status_code,
                                range(count)))  # fmt: skip
    expect(statuses == {200}, f"every user's list: {statuses}")


def standby_dies(reader: Service, standby: PostgresServer) -> None:
    """Kills the standby under reads: what the reads saw, and how long the service took to
    leave it out (by its log line's time)."""
    logged = len(reader.log.read_text(errors="replace"))
    killed = [datetime.now(UTC)]

    def kill() -> None:
        killed[0] = datetime.now(UTC)
        standby.kill()

    count, errors, slowest = reads_around(reader.url, kill, after=2, before=0.5)
    left_out = [
        datetime.fromisoformat(entry["time"])
        for line in reader.log.read_text(errors="replace")[logged:].splitlines()
        if line.startswith("{") and "left out" in line
        and (entry := json.loads(line))["message"].startswith("read replica")
    ]  # fmt: skip
    expect(bool(left_out), "the standby left out, and the log saying so")
    ready = httpx.get(f"{reader.url}/readyz").json()
    replica = next(value for name, value in ready["checks"].items() if "replica" in name)
    say(
        f"  the standby killed (SIGKILL) under reads: {count} reads in the 2 s after, {errors} "
        f"not 200, the slowest {slowest:.0f} ms; left out "
        f"{(min(left_out) - killed[0]).total_seconds() * 1000:.0f} ms after (its log line); "
        f"/readyz {ready['status']}, the replica {replica}"
    )
    expect(errors == 0, "no read fails when the standby dies")
