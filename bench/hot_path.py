"""CPU per cached account list, in-process: the app's own cost without gunicorn or a network.

    .venv/bin/python bench/hot_path.py [--requests N] [--rounds R]

Calls the WSGI app directly with user123's list (the cache hit every client makes most often),
in the in-memory default with authentication and rate limits off, as in bench/compare.py. Prints
the best of R rounds in microseconds per request, the figure bench/README.md compares before and
after a change to the request path.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from app import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

ROOT = Path(__file__).resolve().parent.parent


def environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (log lines go nowhere; closed below)
    app = create_app(
        {
            "SEED_DATA": str(ROOT / "seed_data.json"),
            "AUTH": "off",
            "RATE_LIMIT_PER_ADDRESS": "",
            "RATE_LIMIT_PER_TOKEN": "",
        }
    )
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def one() -> None:
        for _ in app.wsgi_app(
            environ("/users/user123/accounts"), cast("StartResponse", start_response)
        ):
            pass

    try:
        one()  # fills the cache
        best = float("inf")
        for _ in range(options.rounds):
            started = time.perf_counter()
            for _ in range(options.requests):
                one()
            best = min(best, time.perf_counter() - started)
    finally:
        sys.stdout.close()
        sys.stdout = sys.__stdout__
    if set(statuses) != {"200 OK"}:
        sys.exit(f"unexpected answers: {sorted(set(statuses))}")
    print(f"{best / options.requests * 1e6:.1f} us per cached list (best of {options.rounds})")


if __name__ == "__main__":
    main()
