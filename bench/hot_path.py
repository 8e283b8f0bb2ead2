"""CPU per cached account list, in-process: the app's own cost without gunicorn or a network.

    .venv/bin/python -m bench.hot_path [--requests N] [--rounds R] [--auth] [--limits]
                                       [--database URL [--revisions redis] [--cold]]

Calls the WSGI app directly with user123's list (the cache hit every client makes most often),
by default in memory with authentication and rate limits off, as in bench/compare.py. --auth
sends a bearer token with every request; --limits counts both rate limits (in this process's
memory, with budgets too large to reach); --database serves from a database (seeded if empty),
its revisions read from it or, with --revisions redis, from Redis at --redis-url. --cold asks
for a different user every time (the compare's synthetic users, seeded into an empty database),
none of them cached nor on the board: the cost of a miss. Prints the best of R rounds in
microseconds per request, the figure bench/README.md compares before and after a change to the
request path. To measure an older commit, run this file with PYTHONPATH
set to a worktree of it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from app import create_app
from app.adapters.tokens import mint_token
from bench.compare import synthetic_accounts

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
    parser.add_argument("--auth", action="store_true")
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--database")
    parser.add_argument("--revisions", default="database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--cold", action="store_true")
    options = parser.parse_args()
    if options.cold and (options.auth or not options.database):
        parser.error("--cold needs --database, and no --auth (its token is user123's)")
    bundled = json.loads((ROOT / "seed_data.json").read_text())
    cold_users = options.requests * options.rounds if options.cold else 0
    bundled.update({f"u{i}": synthetic_accounts(i) for i in range(cold_users)})
    seed_file = Path(tempfile.mkdtemp()) / "seed.json"
    seed_file.write_text(json.dumps(bundled))
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (log lines go nowhere; closed below)
    secret = secrets.token_hex(32)
    config: dict[str, Any] = {
        "SEED_DATA": str(seed_file),
        "AUTH": "jwt" if options.auth else "off",
        "JWT_SECRET": secret,
        "DATABASE_URL": options.database,
        "REDIS_URL": options.redis_url if options.revisions == "redis" else None,
        "REVISIONS": options.revisions,
        "REVISIONS_NAMESPACE": f"hot-path-{secrets.token_hex(4)}",
    }
    # With --limits, budgets too large to reach: every request is counted, none refused.
    budget = "1000000000 per hour" if options.limits else ""
    config |= {"RATE_LIMIT_PER_ADDRESS": budget, "RATE_LIMIT_PER_TOKEN": budget}
    app = create_app(config)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {mint_token('user123', secret)}"}
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def one(user_id: str = "user123") -> None:
        for _ in app.wsgi_app(
            environ(f"/users/{user_id}/accounts") | headers, cast("StartResponse", start_response)
        ):
            pass

    users = (f"u{i}" for i in range(cold_users))
    try:
        one()  # fills the cache
        best = float("inf")
        for _ in range(options.rounds):
            started = time.perf_counter()
            for _ in range(options.requests):
                one(next(users) if options.cold else "user123")
            best = min(best, time.perf_counter() - started)
    finally:
        sys.stdout.close()
        sys.stdout = sys.__stdout__
    if set(statuses) != {"200 OK"}:
        sys.exit(f"unexpected answers: {sorted(set(statuses))}")
    what = "cold miss" if options.cold else "cached list"
    print(f"{best / options.requests * 1e6:.1f} us per {what} (best of {options.rounds})")


if __name__ == "__main__":
    main()
