"""The provider sandbox in a process of its own, beside the service: what the demo links banks
through when no provider is configured (the WSGI entry starts it, gunicorn's on_exit stops it),
and the tests' sandbox."""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.config import ConfigurationError

_VARIABLE = "ACCOUNTS_PROVIDER_SANDBOX_URL"


@dataclass
class SandboxProcess:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_sandbox() -> SandboxProcess:
    """`accounts-service provider-sandbox` on a free port of 127.0.0.1, once it has said its URL.
    Raises RuntimeError when it does not."""
    # -P: not the current directory's `app`, which may be another project's; ours is installed.
    process = subprocess.Popen(  # nosec B603 (our own command, no shell)
        [sys.executable, "-P", "-m", "app", "provider-sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = process.stdout.readline().strip() if process.stdout else ""
    if not url.startswith("http://"):
        process.kill()
        process.wait()
        raise RuntimeError(f"the provider sandbox did not start (exit code {process.returncode})")
    return SandboxProcess(url, process)


_started: list[SandboxProcess] = []


def beside_the_demo(settings: Mapping[str, Any]) -> None:
    """In the demo (no database, and no provider named, not even as empty), starts the sandbox
    and names it as the provider, so that the first thing a newcomer sees can link a bank."""
    if _VARIABLE in os.environ or settings["DATABASE_URL"] or settings["PROVIDER_SANDBOX_URL"]:
        return
    try:
        _started.append(start_sandbox())
    except RuntimeError as error:
        raise ConfigurationError(f"{error}; set ACCOUNTS_PROVIDER_SANDBOX_URL= for none") from None
    os.environ[_VARIABLE] = _started[-1].url


def stop_started() -> None:
    """Stops what beside_the_demo started (gunicorn's on_exit, in the process that started it)."""
    while _started:
        _started.pop().stop()
