"""pytest fixtures for projects whose tests need a live accounts-service.

A module of its own, outside the `app` package, and importing nothing from it: `app` is the most
common name a Flask project gives its own package, and whichever of the two came first on
sys.path would hide the other. The server runs in its own process, which finds this project's
`app` in the environment it is installed in, never the current directory's.

Installed with the package (entry point `pytest11`), so any project that installs
accounts-service can write:

    @pytest.fixture
    def accounts_service_data():
        return {"alice": [{"id": "card", "type": "credit", ...}]}

    def test_lists_alice(accounts_service):
        urllib.request.urlopen(f"{accounts_service.url}/users/alice/accounts")

One server runs per test session; before each test its data is replaced with that test's
`accounts_service_data`, so what one test writes never leaks into the next.
"""

from __future__ import annotations

import json
import selectors
import subprocess  # nosec B404
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

import orjson
import pytest

_START_TIMEOUT_SECONDS = 30


@dataclass
class AccountsService:
    """A running server: its base URL, and the fixture-mode routes as methods."""

    url: str
    process: subprocess.Popen[str]

    def __post_init__(self) -> None:
        # The URL is opened below: it must be the server's http address, nothing else.
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"not an http URL: {self.url!r}")

    def reset(self, data: Mapping[str, Any] | Path) -> None:
        """Replace every user with `data` (seed-file format, as a mapping or a file).

        Amounts may be int, float or Decimal; they are sent as exact JSON numbers.
        """
        body = data.read_bytes() if isinstance(data, Path) else orjson.dumps(data, default=_exact)
        request = urllib.request.Request(  # noqa: S310 (our own server's http URL)
            f"{self.url}/reset",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        # Only ever an http(s) URL: see __post_init__.
        with urllib.request.urlopen(request):  # noqa: S310  # nosec B310
            pass

    def export(self) -> dict[str, Any]:
        """The whole current state, in the seed-file format."""
        with urllib.request.urlopen(f"{self.url}/export") as response:  # noqa: S310  # nosec B310
            exported: dict[str, Any] = json.load(response)
        return exported


def _exact(value: object) -> orjson.Fragment:
    """A Decimal as the JSON number with its own digits."""
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot send {value!r} as JSON")


def start(seed: Path) -> AccountsService:
    """Start `accounts-service serve` on a free port; returns once it has said its URL."""
    # The server logs a line per request to standard error: into a file, not a pipe, since a
    # pipe nobody reads fills up after a few hundred requests and the server then stops.
    with tempfile.TemporaryFile("w+") as log:
        # Our own command, with no shell and no input from elsewhere.
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            # -P: the current directory is not searched, so its own `app` cannot stand in for ours.
            [
                sys.executable,
                "-P",
                "-m",
                "app.entrypoints.cli",
                "serve",
                "--seed",
                str(seed),
                "--port",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        stdout = cast(IO[str], process.stdout)  # never None: it is a pipe
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=_START_TIMEOUT_SECONDS)
        url = stdout.readline().strip() if ready else ""
        if not url.startswith("http"):
            process.kill()
            process.communicate()
            log.seek(0)
            raise RuntimeError(f"accounts-service did not start: {log.read().strip()}")
    # The URL is all the server writes to standard output; anything after it is read and
    # dropped all the same, for the same reason, until the server exits.
    threading.Thread(target=_drain, args=(stdout,), daemon=True).start()
    return AccountsService(url, process)


def _drain(stream: IO[str]) -> None:
    with stream:
        stream.read()


@pytest.fixture(scope="session")
def accounts_service_server() -> Iterator[AccountsService]:
    """The session's one server, started empty."""
    with tempfile.TemporaryDirectory() as folder:
        seed = Path(folder) / "empty.json"
        seed.write_text("{}")
        server = start(seed)
        try:
            yield server
        finally:
            server.process.terminate()
            server.process.wait(timeout=30)


@pytest.fixture
def accounts_service_data() -> Mapping[str, Any] | Path:
    """Override in your tests: the data (seed-file format) each test starts with."""
    return {}


@pytest.fixture
def accounts_service(
    accounts_service_server: AccountsService, accounts_service_data: Mapping[str, Any] | Path
) -> AccountsService:
    """The server, holding exactly `accounts_service_data`."""
    accounts_service_server.reset(accounts_service_data)
    return accounts_service_server
