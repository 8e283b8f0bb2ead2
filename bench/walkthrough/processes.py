"""The processes a chapter starts (gunicorn, `accounts-service` commands, sync workers, the
provider sandbox), each logging to a file of the chapter's scratch folder, and their stopping."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.walkthrough.outcome import NotAsDocumented, expect
from harness import REPO_ROOT, free_port
from harness.gunicorn import DATABASE_WORKERS, WORKER_BOOTED

#: Every chapter's service: sign-in and rate limits off (one wrk process stands in for many
#: clients), until the gateway chapter turns them on.
OPEN = {
    "ACCOUNTS_AUTH": "off",
    "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
    "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
}


@dataclass
class Process:
    process: subprocess.Popen[bytes]
    log: Path

    def retire(self) -> None:
        """Asks it to stop, and goes on: its graceful shutdown (a second or two) then overlaps
        what comes next. Processes.stop_all waits for it."""
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


class Processes:
    """Starts processes with logs in `scratch`, and stops every one it started."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.started: list[Process] = []

    def _spawn(
        self, name: str, command: list[str], env: Mapping[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.scratch / f"{name}-{len(self.started)}.log"
        # The reader's own ACCOUNTS_ settings would change what is measured: only the chapter's.
        inherited = {key: value for key, value in os.environ.items() if "ACCOUNTS_" not in key}
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
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

    def stop_all(self) -> None:
        for started in self.started:  # all at once: each takes a second or two to wind down
            started.retire()
        for started in self.started:
            started.stop()
