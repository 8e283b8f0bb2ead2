"""Run the real thing: gunicorn with the project's gunicorn.conf.py, on a port it picks itself."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import REPO_ROOT, children_of

#: How many worker processes gunicorn.conf.py starts on a database.
DATABASE_WORKERS = max(2, os.cpu_count() or 1)

_LISTENING = re.compile(r"Listening at: (http://\S+)")
#: What gunicorn logs as each worker process boots.
WORKER_BOOTED = re.compile(r"Booting worker with pid")


@dataclass
class Gunicorn:
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    #: What the app wrote to standard output (its JSON log lines), as it comes.
    stdout: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    _ended: bool = False

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_stdout, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:  # appended as they come, for tests that watch
                self.stdout.append(line.rstrip("\n"))

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = 20) -> re.Match[str] | None:
        """The first line of gunicorn's log matching `pattern`, or None once it has exited."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                self._ended = True
                return None
            self.log.append(line)
            if match := pattern.search(line):
                return match
        raise TimeoutError(f"gunicorn never logged {pattern.pattern!r}: {self.log}")

    def rest_of_log(self) -> list[str]:
        """Everything gunicorn logs until it exits (call once it is stopping)."""
        while not self._ended and (line := self._lines.get(timeout=30)) is not None:
            self.log.append(line)
        self._ended = True
        assert self.process.stderr is not None
        self.process.stderr.close()
        return self.log

    def worker_pids(self) -> list[int]:
        """The master's child processes."""
        return children_of(self.process.pid)

    def wait_for_workers(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) != count:
            assert time.monotonic() < deadline, f"not {count} workers: {self.worker_pids()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: a crash, with no chance to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.rest_of_log()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.rest_of_log()


#: The checkout's way to serve; an installed service's is `accounts-service run`.
CHECKOUT_COMMAND = (sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app")


def start_gunicorn(
    env: Mapping[str, str | None] = {},
    command: Sequence[str] = CHECKOUT_COMMAND,
    cwd: Path = REPO_ROOT,
) -> Gunicorn:
    """gunicorn with the environment's variables and `env`'s (None leaves one unset)."""
    # No provider sandbox beside it (the demo's), unless the test names one or leaves it unset.
    settings = {**os.environ, "PORT": "0", "ACCOUNTS_PROVIDER_SANDBOX_URL": "", **env}
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={name: value for name, value in settings.items() if value is not None},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so kill() reaches the workers too
    )
    return Gunicorn(process)


@contextmanager
def serving(
    env: Mapping[str, str | None] = {},
    command: Sequence[str] = CHECKOUT_COMMAND,
    cwd: Path = REPO_ROOT,
) -> Iterator[tuple[str, Gunicorn]]:
    """Yield (base URL, server) for a started gunicorn, and stop it afterwards."""
    server = start_gunicorn(env, command, cwd)
    try:
        match = server.wait_for_line(_LISTENING)
        assert match, f"gunicorn exited: {server.rest_of_log()}"
        assert server.wait_for_line(WORKER_BOOTED), f"no worker: {server.rest_of_log()}"
        yield match.group(1), server
    finally:
        if server.process.returncode is None:
            server.stop()
