"""`accounts-service serve`: the service under gunicorn, in fixture mode, announcing its URL.

For other projects' test suites, in any language: start the command, read the first line of its
standard output (the base URL), and send SIGTERM when done.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from app.adapters.logs import configure_logging
from app.entrypoints.http import create_app
from app.entrypoints.http.server_errors import install


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, app: Flask, options: Mapping[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self._app


def _announce(server: Any) -> None:
    """gunicorn's when_ready hook: the listening sockets are bound, so their ports are known."""
    for listener in server.LISTENERS:
        print(listener, flush=True)  # e.g. http://127.0.0.1:40521


def serve(seed: Path, host: str, port: int, threads: int) -> None:
    """Blocks until gunicorn stops (on SIGTERM or SIGINT). Raises SeedDataError before binding."""
    # Standard output carries one thing, the URL, on its first line: logs go to standard error.
    configure_logging("stderr")
    # No rate limits: a test suite sends requests as fast as it can, and should not get 429s.
    app = create_app(
        {
            "SEED_DATA": str(seed),
            "FIXTURE_MODE": True,
            **dict.fromkeys(["RATE_LIMIT_PER_ADDRESS", "RATE_LIMIT_PER_TOKEN"], ""),
        }
    )
    options = {
        "bind": f"{host}:{port}",
        # One process: the data lives in its memory, and /reset must reach the only copy.
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "when_ready": _announce,
        "on_starting": install,
        "control_socket_disable": True,
    }
    _Gunicorn(app, options).run()
    sys.exit(0)
