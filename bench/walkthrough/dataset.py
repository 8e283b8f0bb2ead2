"""The walkthrough's PostgreSQL database, `accounts_walkthrough` beside the reader's: synthetic
users loaded by COPY, and the bundled seed."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from bench.postgres_scale import load
from bench.walkthrough.processes import Processes

DATABASE = "accounts_walkthrough"
SYNTHETIC_USERS = 20_000
ACCOUNTS_PER_USER = 5


def made(processes: Processes, admin_url: str, fresh: bool = False) -> str:
    """The URL of the walkthrough's database beside the one at `admin_url`: made afresh when
    asked, or when it is missing or was left half made; brought up to date otherwise (a newer
    checkout may add migrations)."""
    url = make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)
    if not fresh and _loaded(url):
        processes.run("db", "upgrade", "--database-url", url)
        return url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    populate(processes, url, SYNTHETIC_USERS)
    return url


def populate(processes: Processes, url: str, users: int) -> None:
    """The schema, `users` synthetic users u0… with ACCOUNTS_PER_USER accounts each, and the
    bundled seed, in the empty database at `url`."""
    processes.run("db", "upgrade", "--database-url", url)
    load(url, users, ACCOUNTS_PER_USER)  # COPY: seconds, where the API takes minutes
    processes.run("db", "seed", "seed_data.json", "--database-url", url)


def _loaded(url: str) -> bool:
    """Whether the last synthetic user and the seed's are there: loading ended."""
    wanted = [f"u{SYNTHETIC_USERS - 1}", "user123"]
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            found = connection.execute("SELECT count(*) FROM users WHERE id = ANY(%s)", [wanted])
            return found.fetchone() == (len(wanted),)
    except psycopg.Error:  # no such database, or no such table
        return False
