"""pytest fixtures for projects whose tests need a live accounts-service.

A distribution of its own (pytest-accounts-service), which imports nothing of the service: the
service runs in its own process, from its own environment (installed with pipx, say), so that
its packages never meet the project's (`app` is the most common name a Flask project gives its
own package). The `accounts-service` command on PATH is started, or the one named by
`--accounts-service-command` or the ini setting `accounts_service_command`.

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
import shlex
import shutil
import subprocess  # nosec B404
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

import orjson
import pytest

_START_TIMEOUT_SECONDS = 30
_COMMAND = "accounts-service"
_HOW_TO_INSTALL = (
    "install accounts-service beside the project (`pipx install accounts-service`, or into a "
    "virtual environment of its own), or name its command with --accounts-service-command or "
    "the ini setting accounts_service_command"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = f"the accounts-service command to start (default: {_COMMAND!r} on PATH)"
    parser.addoption("--accounts-service-command", help=help_text)
    parser.addini("accounts_service_command", help=help_text, default=_COMMAND)


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
        try:
            # Only ever an http(s) URL: see __post_init__.
            with urllib.request.urlopen(request):  # noqa: S310  # nosec B310
                pass
        except urllib.error.HTTPError as refused:
            # The service's problem+json says what is wrong with the data, field by field.
            raise ValueError(
                f"accounts-service refused the data: {refused.read().decode()}"
            ) from None

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


def start(seed: Path, command: str = _COMMAND) -> AccountsService:
    """Start `<command> serve` on a free port; returns once it has said its URL. `command` is
    a path or a name on PATH, with arguments if need be (`pipx run accounts-service`)."""
    program, *arguments = shlex.split(command)
    found = shutil.which(program)
    if found is None:
        raise FileNotFoundError(f"{program!r} is no command found on PATH: {_HOW_TO_INSTALL}")
    # The server logs a line per request to standard error: into a file, not a pipe, since a
    # pipe nobody reads fills up after a few hundred requests and the server then stops.
    with tempfile.TemporaryFile("w+") as log:
        # Our own command, with no shell and no input from elsewhere.
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            [found, *arguments, "serve", "--seed", str(seed), "--port", "0"],
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
def accounts_service_server(pytestconfig: pytest.Config) -> Iterator[AccountsService]:
    """The session's one server, started empty."""
    command = pytestconfig.getoption("accounts_service_command") or pytestconfig.getini(
        "accounts_service_command"
    )
    with tempfile.TemporaryDirectory() as folder:
        seed = Path(folder) / "empty.json"
        seed.write_text("{}")
        try:
            server = start(seed, str(command))
        except (FileNotFoundError, RuntimeError) as error:
            pytest.fail(str(error), pytrace=False)
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
