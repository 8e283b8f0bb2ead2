"""The response cache: hits skip the store and the serializer, writes make it stale at once, a
burst of misses reads the store once, and a Redis that goes away costs nothing but speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.adapters.cache import ProcessCache, RedisCache
from app.adapters.metrics import CACHE_ERRORS
from app.adapters.pause import PAUSE_SECONDS
from app.adapters.seed import load_seed_file
from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.accounts import Account, AccountType
from app.entrypoints.http import accounts as accounts_api
from app.entrypoints.http.context import components_of
from app.services.cache import CachedBody, CacheKey, ResponseCache
from harness.gunicorn import DATABASE_WORKERS, serving
from harness.tcp_proxy import TcpProxy
from tests.conftest import SEED_FILE, serve_from
from tests.databases import emptied
from tests.samples import valid_account


def entry(text: str) -> CachedBody:
    return CachedBody(text.encode(), f"tag-{text}", len(text))


def redis_url_through(proxy: TcpProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/0"


@pytest.fixture(params=["process", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[ResponseCache]:
    if request.param == "process":
        yield ProcessCache(max_bytes=1 << 20)
        return
    cache = RedisCache(request.getfixturevalue("redis_url"), ttl_seconds=60, timeout_seconds=1)
    yield cache
    cache.close()


def unique_key(user: str = "alice", variant: str = "") -> CacheKey:
    # Redis outlives a test: a fresh revision keeps this test's entries its own.
    return CacheKey(user, variant, time.monotonic_ns())


def test_stores_and_finds_by_the_whole_key(cache: ResponseCache) -> None:
    key = unique_key()
    assert cache.get(key) is None
    cache.put(key, entry("one"))
    assert cache.get(key) == entry("one")
    assert cache.get(key._replace(revision=key.revision + 1)) is None
    assert cache.get(key._replace(variant="credit")) is None
    assert cache.get(key._replace(user_id="bob")) is None


def arrivals(cache: ResponseCache, monkeypatch: pytest.MonkeyPatch, count: int) -> threading.Event:
    """Set once `count` lookups have reached the cache: by construction, not by a sleep, every
    request of a burst is then in it."""
    arrived = threading.Event()
    lookups: list[CacheKey] = []
    lock = threading.Lock()
    looking_up = cache.get

    def counted(key: CacheKey) -> CachedBody | None:
        with lock:
            lookups.append(key)
            if len(lookups) >= count:
                arrived.set()
        return looking_up(key)

    monkeypatch.setattr(cache, "get", counted)
    return arrived


def test_a_burst_of_misses_renders_once(
    cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = unique_key()
    rendered = []
    # Each of the 16 looks up once, and the one that renders looks again before it does.
    everyone_in = arrivals(cache, monkeypatch, 16 + 1)

    def render() -> CachedBody:
        rendered.append(1)
        assert everyone_in.wait(10), "the burst never all arrived"
        return entry("slow")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: cache.fetch(key, render), range(16)))
    assert results == [entry("slow")] * 16
    assert len(rendered) == 1
    assert cache.fetch(key, render) == entry("slow")
    assert len(rendered) == 1


def test_when_the_render_fails_every_waiting_request_tries_itself(
    cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = unique_key()
    calls = []
    first_started = threading.Event()
    # The leader's two lookups, and one of each follower: all of them wait on its flight.
    followers_in = arrivals(cache, monkeypatch, 2 + 3)

    def render() -> CachedBody:
        calls.append(1)
        if len(calls) == 1:
            first_started.set()
            assert followers_in.wait(10), "the followers never arrived"
            raise RuntimeError("the store is down")
        return entry("later")

    with ThreadPoolExecutor(4) as pool:
        leader = pool.submit(cache.fetch, key, render)
        first_started.wait(5)
        followers = [pool.submit(cache.fetch, key, render) for _ in range(3)]
        with pytest.raises(RuntimeError):
            leader.result()
        assert [follower.result() for follower in followers] == [entry("later")] * 3


def test_the_process_cache_keeps_one_revision_per_list_and_a_byte_budget() -> None:
    cache = ProcessCache(max_bytes=10)
    cache.put(CacheKey("alice", "", 1), entry("aaaa"))
    cache.put(CacheKey("alice", "", 2), entry("bbbb"))  # replaces revision 1: 4 bytes in use
    assert cache.get(CacheKey("alice", "", 1)) is None
    cache.put(CacheKey("bob", "", 1), entry("cccc"))  # 8 bytes
    assert cache.get(CacheKey("alice", "", 2)) == entry("bbbb")  # alice is now the most recent
    cache.put(CacheKey("carol", "", 1), entry("dddd"))  # 12 > 10: the least recent (bob) goes
    assert cache.get(CacheKey("bob", "", 1)) is None
    assert cache.get(CacheKey("alice", "", 2)) == entry("bbbb")
    assert cache.get(CacheKey("carol", "", 1)) == entry("dddd")
    cache.put(CacheKey("erin", "", 1), entry("x" * 11))  # larger than the whole budget
    assert cache.get(CacheKey("erin", "", 1)) is None


def test_a_zero_budget_caches_nothing() -> None:
    cache = ProcessCache(max_bytes=0)
    cache.put(CacheKey("alice", "", 1), entry("aaaa"))
    assert cache.get(CacheKey("alice", "", 1)) is None


def test_redis_down_is_a_miss_not_an_error_and_the_cache_resumes(redis_proxy: TcpProxy) -> None:
    cache = RedisCache(redis_url_through(redis_proxy), ttl_seconds=60, timeout_seconds=0.2)
    key = unique_key()
    cache.put(key, entry("before"))
    assert cache.get(key) == entry("before")

    redis_proxy.stop()
    errors_before = CACHE_ERRORS._value.get()
    started = time.monotonic()
    assert cache.fetch(key, lambda: entry("from the store")) == entry("from the store")
    for _ in range(100):  # paused: no more timeouts, no more errors
        assert cache.fetch(key, lambda: entry("from the store")) == entry("from the store")
    assert time.monotonic() - started < 1
    assert CACHE_ERRORS._value.get() == errors_before + 1

    redis_proxy.start()
    deadline = time.monotonic() + 5
    while cache.get(key) is None:
        assert time.monotonic() < deadline, "the cache did not resume after Redis came back"
        time.sleep(0.1)
    assert cache.get(key) == entry("before")
    cache.put(key, entry("after"))
    assert cache.get(key) == entry("after")
    cache.close()


class CountingRepository(InMemoryAccountRepository):
    """Counts the reads of account lists, and makes each one slow, so that misses overlap."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.list_calls = 0

    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        self.list_calls += 1
        time.sleep(0.05)
        return super().list_accounts(user_id, types)


def app_with_counting_store(**config: Any) -> tuple[Flask, CountingRepository]:
    app = create_app({"SEED_DATA": str(SEED_FILE), **config})
    store = CountingRepository(load_seed_file(SEED_FILE))
    serve_from(app, store)
    return app, store


@pytest.fixture(params=["process", "redis"])
def cached_app(request: pytest.FixtureRequest) -> Iterator[tuple[Flask, CountingRepository]]:
    if request.param == "process":
        app, store = app_with_counting_store()
    else:
        redis_url = request.getfixturevalue("redis_url")
        app, store = app_with_counting_store(CACHE_BACKEND="redis", REDIS_URL=redis_url)
    yield app, store
    components_of(app).cache.close()


def test_a_hit_reads_no_accounts_and_serializes_nothing(
    cached_app: tuple[Flask, CountingRepository], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = cached_app
    client = app.test_client()
    first = client.get("/users/user123/accounts")
    # Each filter has its own entry; equal filters, however they are spelt, share one.
    for path in ["?type=loan,credit", "?type=credit&type=loan", "?type=credit,loan,credit"]:
        assert client.get(f"/users/user123/accounts{path}").status_code == 200
    assert store.list_calls == 2

    def no_serializing(_: object) -> bytes:
        raise AssertionError("a cache hit serialized the list")

    monkeypatch.setattr(accounts_api, "dumps_bytes", no_serializing)
    again = client.get("/users/user123/accounts")
    assert (again.status_code, again.data, again.headers["ETag"]) == (
        200,
        first.data,
        first.headers["ETag"],
    )
    not_modified = client.get(
        "/users/user123/accounts", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert (not_modified.status_code, not_modified.data) == (304, b"")
    assert store.list_calls == 2


def test_a_burst_of_requests_for_one_user_reads_the_store_once(
    cached_app: tuple[Flask, CountingRepository],
) -> None:
    app, store = cached_app
    with ThreadPoolExecutor(16) as pool:
        responses = list(
            pool.map(lambda _: app.test_client().get("/users/user456/accounts"), range(16))
        )
    assert {response.status_code for response in responses} == {200}
    assert len({response.data for response in responses}) == 1
    assert store.list_calls == 1


def write_then_read(client: FlaskClient, write: Callable[[], Any], path: str) -> bytes:
    write()
    return bytes(client.get(path).data)


def test_every_write_is_seen_by_the_next_read(
    cached_app: tuple[Flask, CountingRepository],
) -> None:
    app, _ = cached_app
    client = app.test_client()
    lists = ["/users/user123/accounts", "/users/user123/accounts?type=credit"]

    def balance(path: str) -> object:
        [credit] = [a for a in client.get(path).json["accounts"] if a["id"] == "acc1"]  # type: ignore[index]
        return credit["balance"]

    for path in lists:
        balance(path)  # cached now
    for amount in (1, 2, 3):
        assert (
            client.patch("/users/user123/accounts/acc1", json={"balance": amount}).status_code
            == 200
        )
        assert [balance(path) for path in lists] == [amount, amount]
    new_account = valid_account("credit", id="acc9")
    assert client.post("/users/user123/accounts", json=new_account).status_code == 201
    assert [len(client.get(path).json["accounts"]) for path in lists] == [4, 2]  # type: ignore[index]
    assert client.delete("/users/user123/accounts/acc9").status_code == 204
    assert [len(client.get(path).json["accounts"]) for path in lists] == [3, 1]  # type: ignore[index]
    assert client.delete("/users/user123").status_code == 204
    assert [client.get(path).status_code for path in lists] == [404, 404]
    assert client.post("/users", json={"id": "user123"}).status_code == 201
    assert [client.get(path).json["accounts"] for path in lists] == [[], []]  # type: ignore[index]


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite, in-process cache",
        "postgresql, redis cache",
        "postgresql, in-process cache, revisions in redis",
    ],
)
def test_no_stale_read_after_a_write_on_a_live_server_with_several_workers(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend.startswith("sqlite"):
        env = {"ACCOUNTS_DATABASE_URL": emptied(f"sqlite:///{tmp_path / 'stale.db'}")}
    else:
        env = {
            "ACCOUNTS_DATABASE_URL": emptied(request.getfixturevalue("postgres_url")),
            "ACCOUNTS_REDIS_URL": request.getfixturevalue("redis_url"),
        }
    if "redis cache" in backend:
        env["ACCOUNTS_CACHE_BACKEND"] = "redis"
    if "revisions in redis" in backend:
        env |= {"ACCOUNTS_REVISIONS": "redis", "ACCOUNTS_REVISIONS_NAMESPACE": token_hex(8)}
    env |= {"ACCOUNTS_AUTH": "off", "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": ""}
    lists = [f"/users/user123/accounts{query}" for query in ("", "?type=credit")]
    with serving(env) as (url, server):
        server.wait_for_workers(DATABASE_WORKERS)

        def get(path: str) -> requests.Response:
            # A new connection each time, so that requests spread over the worker processes.
            with requests.Session() as session:
                return session.get(url + path, timeout=10)

        def balance(path: str) -> object:
            [credit] = [a for a in get(path).json()["accounts"] if a["id"] == "acc1"]
            return credit["balance"]

        for _ in range(20):  # every worker holds both lists now
            for path in lists:
                balance(path)
        # Meanwhile others keep reading, so that misses refill the caches while writes land.
        stop, failures = threading.Event(), []

        def keep_reading() -> None:
            while not stop.is_set():
                for path in lists:
                    if (status := get(path).status_code) != 200:
                        failures.append(status)

        readers = [threading.Thread(target=keep_reading) for _ in range(3)]
        for reader in readers:
            reader.start()
        try:
            for amount in range(1, 21):
                with requests.Session() as session:
                    patched = session.patch(
                        f"{url}/users/user123/accounts/acc1", json={"balance": amount}, timeout=10
                    )
                assert patched.status_code == 200
                seen = [balance(path) for path in lists for _ in range(3)]
                assert seen == [amount] * 6, f"a stale read after write {amount}: {seen}"
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert failures == []


def test_with_redis_down_the_service_answers_from_the_store(redis_proxy: TcpProxy) -> None:
    app = create_app(
        {
            "SEED_DATA": str(SEED_FILE),
            "CACHE_BACKEND": "redis",
            "REDIS_URL": redis_url_through(redis_proxy),
            "CACHE_REDIS_TIMEOUT_SECONDS": 0.2,
            # The rate limiter's own Redis fallback is tested in test_limits.py; here it would
            # leave its connection behind the cut proxy unclosed.
            "RATE_LIMIT_PER_ADDRESS": "",
        }
    )
    client = app.test_client()
    cached = client.get("/users/user123/accounts")
    redis_proxy.stop()
    assert client.get("/users/user123/accounts").data == cached.data
    patched = client.patch("/users/user123/accounts/acc1", json={"balance": 7})
    assert patched.status_code == 200
    [credit] = client.get("/users/user123/accounts?type=credit").json["accounts"]  # type: ignore[index]
    assert credit["balance"] == 7
    redis_proxy.start()
    time.sleep(PAUSE_SECONDS)
    for _ in range(2):  # the first fills Redis again, the second is served from it
        [credit] = client.get("/users/user123/accounts?type=credit").json["accounts"]  # type: ignore[index]
        assert credit["balance"] == 7
    components_of(app).cache.close()
