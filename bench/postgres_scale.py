"""Load 100,000 users with 1,000,000 accounts into PostgreSQL, then measure reads through gunicorn.

    .venv/bin/python -m bench.postgres_scale [--users 100000] [--accounts-per-user 10]
        [--connections 50] [--duration 30] [--reload]

It creates the database `accounts_bench` beside the one in --admin-url (once; --reload loads it
again), serves it with the project's own gunicorn.conf.py, and drives random users' lists with
wrk (installed from Debian's packages when missing). It prints requests per second and the
median and 99th percentile latency as wrk measured them.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from app.adapters.exact_json import dumps_bytes
from app.adapters.seed import load_seed_file
from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import upgrade
from app.adapters.storage.sql import account_row
from app.adapters.tokens import mint_token
from app.domain.accounts import Account
from app.services.repositories import new_revision
from bench import wrk
from harness import free_port

REPO = Path(__file__).resolve().parent.parent

SECRET = secrets.token_hex(32)


def synthetic_accounts(user: int, per_user: int, templates: list[Account]) -> list[Account]:
    """`per_user` accounts for user u<user>, after the bundled seed's accounts in turn."""
    return [
        replace(
            templates[n % len(templates)],
            id=f"u{user}-acc{n}",
            balance=Decimal(f"{1200.45 + n + user % 100:.2f}"),
        )
        for n in range(per_user)
    ]


def copy_users(connection: psycopg.Connection[Any], count: int) -> None:
    """Users u0… u{count-1}, each with a revision drawn as the store draws one: never one that
    another database, or an earlier load of this one, left cached lists under."""
    with connection.cursor().copy("COPY users (id, revision) FROM STDIN") as copy:
        for user in range(count):
            copy.write_row((f"u{user}", new_revision()))


def load(url: str, users: int, per_user: int) -> None:
    """COPY the users and accounts in, in chunks so memory stays flat; each row as the store
    writes it (sql.py's account_row)."""
    started = time.monotonic()
    templates = [
        account
        for accounts in load_seed_file(REPO / "seed_data.json").values()
        for account in accounts
    ]
    columns = list(account_row("u0", templates[0]))
    with psycopg.connect(url) as connection:
        connection.execute("TRUNCATE users CASCADE")  # and all that hangs off them
        copy_users(connection, users)
        with connection.cursor().copy(f"COPY accounts ({', '.join(columns)}) FROM STDIN") as copy:
            for user in range(users):
                for account in synthetic_accounts(user, per_user, templates):
                    row = account_row(f"u{user}", account)
                    row["details"] = dumps_bytes(row["details"]).decode()
                    copy.write_row(list(row.values()))
        connection.execute("ANALYZE users")
        connection.execute("ANALYZE accounts")
    print(
        f"loaded {users:,} users and {users * per_user:,} accounts "
        f"in {time.monotonic() - started:.0f} s"
    )


def ensure_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def database_options(parser: argparse.ArgumentParser, name: str) -> None:
    """The options of a benchmark's own database: where, which, and whether to load it again."""
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=name)
    parser.add_argument("--reload", action="store_true", help="load the data even if present")


def migrated_database(args: argparse.Namespace) -> str:
    """The URL of the database `database_options` named, made once and brought up to date."""
    url = ensure_database(args.admin_url, args.database)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def serve(url: str, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_SEED_DATA": "",
        "ACCOUNTS_JWT_SECRET": SECRET,
        # One wrk client stands in for many clients: per-address and per-token limits would
        # measure the limiter, not the service.
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
        "PORT": str(port),
    }
    server = subprocess.Popen(
        # The access log off: the figures are the service's, not those of writing a log line.
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
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            probe = urllib.request.Request(
                f"http://127.0.0.1:{port}/users/u0/accounts",
                headers={"Authorization": f"Bearer {token}"},
            )
            urllib.request.urlopen(probe, timeout=1)
            return server
        except urllib.error.HTTPError as error:
            server.kill()
            raise SystemExit(f"gunicorn answered {error.code} for u0: {error.read()!r}") from None
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    database_options(parser, "accounts_bench")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--accounts-per-user", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=30)
    args = parser.parse_args()

    url = migrated_database(args)
    with psycopg.connect(url) as connection:
        present = connection.execute("SELECT count(*) FROM accounts").fetchone()
    if args.reload or not present or present[0] != args.users * args.accounts_per_user:
        load(url, args.users, args.accounts_per_user)

    # As in production with a database: authentication on, every request checking a token.
    token = mint_token("bench", SECRET, admin=True, expires_in=3600)
    port = free_port()
    server = serve(url, port, token)
    try:
        result = wrk.run(
            f"http://127.0.0.1:{port}",
            args.connections,
            args.duration,
            "random_users.lua",
            {"USERS": str(args.users)},
            [f"Authorization: Bearer {token}"],
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(result.output)
    print(
        f"| {args.users:,} users x {args.accounts_per_user} | {args.connections} | "
        f"{result.rps:.2f} | {result.p50} | {result.p99} | {result.errors} |"
    )


if __name__ == "__main__":
    main()
