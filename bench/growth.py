"""What sync jobs cost a connection in rows and bytes per month, and what retention keeps of them.

    .venv/bin/python -m bench.growth [--connections 200] [--admin-url URL]

Loads a month of hourly syncs (720 finished jobs) for each connection into a fresh PostgreSQL
database beside --admin-url's, measures the table with its indexes, then prunes as the schedule
does (app/services/retention.py, ACCOUNTS_SYNC_JOBS_KEPT_DAYS=14) and counts what is left.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.engine import make_url

from app.adapters.storage.engine import make_engine
from app.adapters.storage.migrate import upgrade
from app.adapters.storage.sql import SqlAccountRepository
from app.services import retention
from bench.postgres_scale import copy_users

HOURS_A_MONTH = 720


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = "accounts_growth"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with psycopg.connect(url) as connection:
        copy_users(connection, args.connections)
        columns = (
            "user_id, id, connection_id, status, accounts_added, accounts_updated, "
            "accounts_closed, created_at, finished_at, version, attempts"
        )
        with connection.cursor().copy(f"COPY sync_jobs ({columns}) FROM STDIN") as copy:
            for n in range(args.connections):
                for hour in range(HOURS_A_MONTH):
                    created = now - timedelta(hours=HOURS_A_MONTH - hour)
                    finished = created + timedelta(seconds=2)
                    row = (f"u{n}", f"job-{n}-{hour}", f"conn-{n}", "succeeded", 0, 5, 0)
                    copy.write_row((*row, created, finished, 1, 1))
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE sync_jobs")
        size = connection.execute("SELECT pg_total_relation_size('sync_jobs')").fetchone()
    rows = args.connections * HOURS_A_MONTH
    per_row = (size[0] if size else 0) / rows
    print(
        f"before: {HOURS_A_MONTH} rows per connection per month, kept for ever: "
        f"{per_row:.0f} bytes a row with its indexes, {per_row * HOURS_A_MONTH / 1024:.0f} KiB "
        "per connection per month"
    )
    store = SqlAccountRepository(engine)
    removed = 0
    while batch := retention.prune(store, now, timedelta(days=14)):
        removed += batch
    left = (rows - removed) / args.connections
    print(
        f"after: {left:.0f} rows per connection at most (14 days of hourly syncs), "
        f"{per_row * left / 1024:.0f} KiB; pruned {removed:,} rows"
    )
    engine.dispose()
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
