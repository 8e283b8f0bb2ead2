"""Chapter 7a: more gunicorn processes and hosts against one database and one Redis."""

from __future__ import annotations

from bench.walkthrough.asking import fresh_after_writes
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.walk import Walk


def scale(walk: Walk) -> None:
    say("7a. More processes and hosts: one database, one Redis, any number of gunicorns")
    url = walk.postgres()
    cached = walk.cached()
    env = {"ACCOUNTS_DATABASE_URL": url, **cached}
    for workers in (1, 2, 4):
        service = walk.service(env, workers=workers)
        walk.random_users(
            f"{workers} worker process{'es' if workers > 1 else ''}: random users", service
        )
        service.retire()
    one, other = walk.service(env), walk.service(env)
    fresh = fresh_after_writes(one, other)
    say(
        f"  two hosts: 20 writes through one, each read back at once through the other: "
        f"{fresh} fresh"
    )
    expect(fresh == 20, "no stale read across hosts")
