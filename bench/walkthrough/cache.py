"""Chapter 3: the response cache on Redis, invalidated exactly."""

from __future__ import annotations

import httpx

from bench.walkthrough.asking import answer, cache_lookups, fresh_after_writes, timed, until
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.walk import LIST, Walk


def cache(walk: Walk) -> None:
    say("3. The response cache: ACCOUNTS_CACHE_BACKEND=redis ACCOUNTS_REVISIONS=redis")
    url = walk.postgres()
    cached = walk.cached()
    before = {"ACCOUNTS_DATABASE_URL": url, "ACCOUNTS_CACHE_MAX_BYTES": "0"}
    service = walk.service(before)
    walk.load("before, cache off: user123's list", f"{service.url}{LIST}")
    walk.random_users("before, cache off: random users", service)
    service.retire()
    after = {"ACCOUNTS_DATABASE_URL": url, **cached}
    service = walk.service(after)
    walk.load("after, Redis: user123's list", f"{service.url}{LIST}")
    hits, misses = cache_lookups(service), cache_lookups(service, "miss")
    walk.random_users("after, Redis: random users", service)
    hits, misses = cache_lookups(service) - hits, cache_lookups(service, "miss") - misses
    say(
        f"    of which hits: {hits / max(hits + misses, 1):.0%} "
        "(a cold list costs the cache's calls too)"
    )
    fresh = fresh_after_writes(service, service)
    say(f"  20 writes, each read back at once: {fresh} fresh, {20 - fresh} stale")
    expect(fresh == 20, "no stale read after a write")

    service.stop()
    proxied, redis = walk.cut_off("Redis", cached["ACCOUNTS_REDIS_URL"])
    service = walk.service({**after, "ACCOUNTS_REDIS_URL": proxied})
    before_read = cache_lookups(service)
    httpx.get(f"{service.url}{LIST}")
    after_read = cache_lookups(service)
    say(
        f"  after a restart, user123's list comes from Redis: hits {before_read:.0f} → "
        f"{after_read:.0f}"
    )
    expect(after_read == before_read + 1, "a hit after a restart")

    redis.stop()
    read, took = timed(lambda: httpx.get(f"{service.url}{LIST}"))
    write = httpx.patch(f"{service.url}{LIST}/acc1", json={"balance": 5})
    say(
        f"  Redis cut off: reads answer {answer(read)} from PostgreSQL ({took:.0f} ms); "
        f"writes {answer(write)}"
    )
    expect(read.status_code == 200, "reads go on without Redis")
    expect(write.status_code == 503, "writes wait for the revision board")
    walk.load("  while Redis is away: user123's list", f"{service.url}{LIST}")
    redis.start()
    back = until(
        lambda: httpx.patch(f"{service.url}{LIST}/acc1", json={"balance": 5}).status_code == 200,
        30,
        "writes again",
    )
    say(f"  Redis back: writes answer 200 again after {back:.1f} s")
