"""Syncs per second with 1 and 2 workers, and what a sync under way costs the API's reads.

    .venv/bin/python -m bench.sync [--connections 1000] [--accounts 10] [--workers 1 2]
        [--duration 8]

It recreates the database `accounts_sync_bench` beside the one in --admin-url, starts the provider
sandbox with one institution of --accounts accounts, links --connections connections over 100
users (u0 … u99, ten each), and serves them with the project's gunicorn.conf.py (PostgreSQL, so
2 processes x 4 threads; authentication and rate limits off, as in bench/compare.py). Then, for
each worker count: wrk reads random users' lists for --duration seconds with no sync running;
every connection's synced accounts are removed and a sync of each is queued on RabbitMQ; that
many `accounts-service worker` processes (4 threads each) run them while wrk reads again. It
prints syncs per second (all jobs queued to all finished), and the read p99 idle and during the
sync, with their ratio. The reads are paced (--delay-ms between a connection's requests, 32
connections), below the service's peak, so that the p99 is the service's and not a queue's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from app.adapters.providers.sandbox import SandboxProvider
from app.adapters.queue.running import utcnow
from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import upgrade
from app.config import settings
from app.domain.connections import Connection
from app.services import linking
from app.services.accounts import new_id
from app.wiring import build_components
from bench import wrk
from harness import free_port

REPO = Path(__file__).resolve().parent.parent

USERS = 100
QUEUE = "accounts-sync-bench"
KINDS = [
    ("depository", "checking"),
    ("depository", "savings"),
    ("credit", "credit card"),
    ("loan", "student"),
    ("investment", "brokerage"),
]


def institution(accounts: int) -> dict[str, object]:
    return {
        "institutions": {
            "ins_bench": {
                "name": "Benchmark Bank",
                "accounts": [
                    {
                        "account_id": f"bench-{n}",
                        "balances": {
                            "available": None,
                            "current": 1000 + n,
                            "limit": 5000 if KINDS[n % 5][0] == "credit" else None,
                            "iso_currency_code": "USD",
                            "last_updated_datetime": "2026-11-25T08:00:00+00:00",
                        },
                        "mask": f"{n:04d}",
                        "name": f"Account {n}",
                        "official_name": None,
                        "type": KINDS[n % 5][0],
                        "subtype": KINDS[n % 5][1],
                    }
                    for n in range(accounts)
                ],
            }
        }
    }


def recreate(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(make_engine(url))
    return url


def start(
    command: list[str], env: dict[str, str], ready: str | None = None
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    if ready is not None:
        for line in process.stdout:
            if ready in line:
                break
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
    return process


def wait_until_serving(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--delay-ms", type=int, default=40)
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="Run the workers at this niceness: what a host shared with the API would do.",
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    options = parser.parse_args()

    database = recreate(options.admin_url, "accounts_sync_bench")
    data = Path(tempfile.mkdtemp()) / "institutions.json"
    data.write_text(json.dumps(institution(options.accounts)))
    sandbox_port, api_port = free_port(), free_port()
    sandbox = start(
        [
            sys.executable,
            "-m",
            "app.entrypoints.cli",
            "provider-sandbox",
            "--port",
            str(sandbox_port),
            "--data",
            str(data),
        ],
        {},
        ready="http://",
    )
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        "ACCOUNTS_DATABASE_URL": database,
        "ACCOUNTS_SEED_DATA": "",
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
        "ACCOUNTS_BROKER_URL": options.broker_url,
        "ACCOUNTS_BROKER_QUEUE": QUEUE,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox_url,
        "ACCOUNTS_TOKEN_KEY": Fernet.generate_key().decode(),
        "ACCOUNTS_SYNC_INTERVAL_SECONDS": "0",
    }
    os.environ.update(env)
    parts = build_components(settings())
    store, aggregation = parts.aggregation.connections, parts.aggregation
    provider = SandboxProvider(sandbox_url)
    started = time.monotonic()
    linked: list[tuple[str, str]] = []
    for number in range(USERS):
        parts.repository.add_user(f"u{number}")
    for n in range(options.connections):
        user = f"u{n % USERS}"
        item = provider.exchange("ins_bench", {"username": "user_good", "password": "pass_good"})
        connection = Connection(
            id=new_id("conn"),
            provider="sandbox",
            institution_id=item.institution_id,
            institution_name=item.institution_name,
            sealed_token=aggregation.seal.seal(item.access_token),
            item_id=item.item_id,
        )
        store.add_connection(user, connection)
        linked.append((user, connection.id))
    print(f"linked {len(linked):,} connections in {time.monotonic() - started:.0f} s")

    api = start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--access-logfile",
            "/dev/null",
            "wsgi:app",
        ],
        {**env, "PORT": str(api_port)},
    )
    base = f"http://127.0.0.1:{api_port}"
    wait_until_serving(f"{base}/users/u0/accounts")
    reads = {"USERS": str(USERS), "DELAY_MS": str(options.delay_ms)}
    wrk.run(base, 32, 2, "random_users.lua", reads)  # warm: every user's list cached once
    print(f"{'workers':>7} {'syncs/s':>8} {'idle p99':>9} {'sync p99':>9} {'ratio':>6}  (rps)")
    try:
        for count in options.workers:
            with psycopg.connect(database, autocommit=True) as sql:
                sql.execute("DELETE FROM accounts WHERE connection_id IS NOT NULL")
                sql.execute("DELETE FROM sync_jobs")
            idle = wrk.run(base, 32, options.duration, "random_users.lua", reads)
            workers = [
                start(
                    [
                        "nice",
                        "-n",
                        str(options.worker_nice),
                        sys.executable,
                        "-m",
                        "app.entrypoints.cli",
                        "worker",
                        "--metrics-port",
                        "0",
                    ],
                    env,
                    ready="worker ready",
                )
                for _ in range(count)
            ]
            during: list[wrk.Result] = []

            def read(into: list[wrk.Result] = during) -> None:
                into.append(wrk.run(base, 32, options.duration, "random_users.lua", reads))

            reader = threading.Thread(target=read)
            began = time.monotonic()
            for owner, connection_id in linked:
                linking.request_sync(aggregation, owner, connection_id, utcnow())
            reader.start()
            with psycopg.connect(database, autocommit=True) as sql:
                while True:
                    row = sql.execute(
                        "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')), "
                        "count(*) FILTER (WHERE status = 'failed') FROM sync_jobs"
                    ).fetchone()
                    assert row is not None
                    if row[0] >= len(linked):
                        break
                    time.sleep(0.05)
            elapsed = time.monotonic() - began
            reader.join()
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=60)
            [busy] = during
            ratio = wrk_ms(busy.p99) / wrk_ms(idle.p99)
            outlasted = "" if elapsed >= options.duration else "  (sync ended before the reads)"
            print(
                f"{count:>7} {len(linked) / elapsed:>8.0f} {idle.p99:>9} {busy.p99:>9} "
                f"{ratio:>5.1f}x  ({idle.rps:,.0f} / {busy.rps:,.0f}; {row[1]} failed){outlasted}"
            )
    finally:
        api.terminate()
        sandbox.terminate()
        parts.close()


def wrk_ms(value: str) -> float:
    """wrk's latency (`812.00us`, `3.21ms`, `1.02s`) in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    raise ValueError(value)


if __name__ == "__main__":
    main()
