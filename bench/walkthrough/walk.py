"""What every chapter runs against: its processes, its servers (some behind proxies it can cut),
and wrk's loads, each also given as a ratio of gunicorn's no-op floor."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import wrk
from bench.walkthrough import dataset
from bench.walkthrough.outcome import CannotRun, expect, say
from bench.walkthrough.processes import Processes, Service
from harness.tcp_proxy import TcpProxy  # the proxy the tests cut servers with

LIST = "/users/user123/accounts"
LINK = {
    "provider": "sandbox",
    "institutionId": "ins_platypus",
    "credentials": {"username": "user_good", "password": "pass_good"},
}
#: The servers' ports when a URL names none.
PORTS = {"postgresql": 5432, "redis": 6379, "amqp": 5672}


class Walk(Processes):
    """What one chapter runs against: its settings, processes, servers, and a scratch folder."""

    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        super().__init__(scratch)
        self.seconds = args.seconds
        self.postgres_admin = args.postgres
        self.redis = urlsplit(args.redis)
        self.rabbitmq = urlsplit(args.rabbitmq)
        self.proxies: list[TcpProxy] = []
        #: Servers started as context managers (harness/engines.py), stopped after the rest.
        self.servers = ExitStack()
        self._floor: wrk.Result | None = None
        # Each run keeps its revisions apart on a shared Redis (see "Revisions on Redis").
        self.namespace = f"walkthrough-{secrets.token_hex(4)}"

    def close(self) -> None:
        self.stop_all()
        for proxy in self.proxies:
            proxy.stop()
        self.servers.close()

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

    def postgres(self, fresh: bool = False) -> str:
        """The URL of the walkthrough's database (bench/walkthrough/dataset.py), made when
        missing, or afresh when asked."""
        return dataset.made(self, self.postgres_admin, fresh)

    def cached(self) -> dict[str, str]:
        """Settings for the response cache and the revisions on Redis."""
        self.reachable("Redis", self.redis.geturl())
        return {
            "ACCOUNTS_CACHE_BACKEND": "redis",
            "ACCOUNTS_REVISIONS": "redis",
            "ACCOUNTS_REDIS_URL": self.redis.geturl(),
            "ACCOUNTS_REVISIONS_NAMESPACE": self.namespace,
        }

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
        self, label: str, service: Service, users: int = dataset.SYNTHETIC_USERS
    ) -> wrk.Result:
        return self.load(
            label, f"{service.url}/users/u0/accounts", "random_users.lua", {"USERS": str(users)}
        )
