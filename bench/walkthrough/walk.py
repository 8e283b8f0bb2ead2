"""What every chapter runs against: its servers on free ports, behind proxies it can cut, and
wrk's loads, each also given as a ratio of gunicorn's no-op floor."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench import wrk
from bench.postgres_scale import load
from harness import free_port
from harness.gunicorn import DATABASE_WORKERS, WORKER_BOOTED
from harness.tcp_proxy import TcpProxy  # the proxy the tests cut servers with

REPO = Path(__file__).resolve().parents[2]

DATABASE = "accounts_walkthrough"
SYNTHETIC_USERS = 20_000
ACCOUNTS_PER_USER = 5
LIST = "/users/user123/accounts"
LINK = {
    "provider": "sandbox",
    "institutionId": "ins_platypus",
    "credentials": {"username": "user_good", "password": "pass_good"},
}
#: The servers' ports when a URL names none.
PORTS = {"postgresql": 5432, "redis": 6379, "amqp": 5672}
#: Every chapter's service: sign-in and rate limits off (one wrk process stands in for many
#: clients), until the gateway chapter turns them on.
OPEN = {
    "ACCOUNTS_AUTH": "off",
    "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
    "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
}


class NotAsDocumented(Exception):
    pass


class CannotRun(Exception):
    """What the chapter needs is not there (a server that does not answer, a program that is
    not installed): nothing was measured."""


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


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


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
        #: Servers started as context managers (harness/engines.py), stopped after the rest.
        self.servers = ExitStack()
        self._floor: wrk.Result | None = None
        # Each run keeps its revisions apart on a shared Redis (see "Revisions on Redis").
        self.namespace = f"walkthrough-{secrets.token_hex(4)}"

    # Servers.

    def cut_off(self, name: str, url: str) -> tuple[str, TcpProxy]:
        """`url` again, through a proxy that can cut its server off and bring it back, for the
        services a chapter takes a server away from. Loads go straight to the servers: the
        proxy's extra hop would halve a cached read's throughput."""
        target = self.reachable(name, url)
        proxy = TcpProxy(*target)
        self.proxies.append(proxy)
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = (
            f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
        )
        return parts._replace(netloc=netloc).geturl(), proxy

    @staticmethod
    def reachable(name: str, url: str) -> tuple[str, int]:
        """The host and port of the server at `url`, once it accepts a connection."""
        parts = urlsplit(url)
        target = (parts.hostname or "127.0.0.1", parts.port or PORTS[parts.scheme.split("+")[0]])
        try:
            socket.create_connection(target, timeout=3).close()
        except OSError as error:
            raise CannotRun(f"unreachable: {name} at {target[0]}:{target[1]}: {error}") from None
        return target

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
        """gunicorn with gunicorn.conf.py, serving `app` once every worker process has booted
        and /healthz answers: a load begun while a worker is still booting would keep its
        connections on the workers already up."""
        port = free_port()
        gunicorn_args = f"--access-logfile /dev/null --workers {workers}" if workers else ""
        process, log = self._spawn(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *app],
            {**OPEN, **env, "PORT": str(port), "GUNICORN_CMD_ARGS": gunicorn_args},
        )
        service = Service(process, log, f"http://127.0.0.1:{port}")
        self.started.append(service)
        # As many as gunicorn.conf.py starts: one per core with a database, else one.
        expected = workers or (DATABASE_WORKERS if env.get("ACCOUNTS_DATABASE_URL") else 1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise NotAsDocumented(f"gunicorn did not start:\n{service.tail()}")
            booted = len(WORKER_BOOTED.findall(log.read_text(errors="replace")))
            if booted >= expected and answers(f"{service.url}/healthz"):
                time.sleep(0.5)  # the last worker's first turn at accepting, after its line
                return service
            time.sleep(0.1)
        raise NotAsDocumented(f"gunicorn did not boot and answer /healthz:\n{service.tail()}")

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
        self.servers.close()

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

    def random_users(
        self, label: str, service: Service, users: int = SYNTHETIC_USERS
    ) -> wrk.Result:
        return self.load(
            label, f"{service.url}/users/u0/accounts", "random_users.lua", {"USERS": str(users)}
        )

    # The database.

    def database_url(self) -> str:
        url = make_url(self.postgres_admin).set(database=DATABASE)
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
        self.populate(url, SYNTHETIC_USERS)

    def populate(self, url: str, users: int) -> None:
        """The schema, `users` synthetic users u0… with ACCOUNTS_PER_USER accounts each, and the
        bundled seed, in the empty database at `url`."""
        self.run("db", "upgrade", "--database-url", url)
        load(url, users, ACCOUNTS_PER_USER)  # COPY: seconds, where the API takes minutes
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

    def postgres(self) -> str:
        """The walkthrough's database, made when missing."""
        self.make_database(fresh=False)
        return self.database_url()

    def cached(self) -> dict[str, str]:
        """Settings for the response cache and the revisions on Redis."""
        self.reachable("Redis", self.redis.geturl())
        return {
            "ACCOUNTS_CACHE_BACKEND": "redis",
            "ACCOUNTS_REVISIONS": "redis",
            "ACCOUNTS_REDIS_URL": self.redis.geturl(),
            "ACCOUNTS_REVISIONS_NAMESPACE": self.namespace,
        }
