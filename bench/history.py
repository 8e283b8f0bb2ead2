"""Balance history at scale on PostgreSQL: a two-year net-worth series, syncs that record history,
and the history table's size.

    .venv/bin/python -m bench.history [--users 5000] [--accounts 8] [--days 730] [--reload]
        [--requests 500] [--sync-users 200] [--rounds 3]

It creates the database `accounts_history_bench` beside the one in --admin-url (once; --reload
loads it again): --users users with --accounts accounts each (the demo seed's accounts in turn; a
quarter in euros, an eighth in pounds) and a balance for each account on each of the last --days
days, in monthly partitions made by `accounts-service db partitions --since`; and the ECB's rates
(the packaged history, its last rates carried on to today, since it ends before today). Then:

1. Net worth: the project's gunicorn serves the database; one client asks a random user's daily
   series of the last --days days in dollars, --requests times in a row (after 50 to warm up),
   and the median and 99th percentile of the time to the whole answer are printed, beside the
   same in-process, split into the history's read and the rest, and PostgreSQL's plan.
2. Syncs: --sync-users users with a connection of 8 synced accounts are synced, every balance
   changed, in rounds that alternate recording history and not (the same code with the
   recording left out: the sync as it was before history); syncs a second of each, and ratio.
3. Size: the history's partitions, indexes included, per million rows.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import psycopg
import requests

from app.adapters.ecb import PACKAGED_HISTORY, read_rates
from app.adapters.exact_json import dumps_bytes
from app.adapters.seed import load_seed_file
from app.adapters.storage.engine import make_engine
from app.adapters.storage.sql import SqlAccountRepository, account_row
from app.domain.accounts import Account
from app.domain.connections import Connection
from app.domain.errors import UserNotFound
from app.domain.history import Interval
from app.services.history import Span
from app.services.net_worth import net_worth_series
from app.services.rates import Rate
from app.services.retention import make_history_room
from bench.postgres_scale import REPO, copy_users, database_options, migrated_database
from harness.gunicorn import serving

TODAY = datetime.now(UTC).date()
#: Which users are asked for: the same ones at every run.
PICK = random.Random(28)  # noqa: S311  # nosec B311 (which users to ask for, no secret)


def templates() -> list[Account]:
    return [
        account
        for accounts in load_seed_file(REPO / "seed_data.json").values()
        for account in accounts
    ]


def currency_of(n: int) -> str:
    return "EUR" if n % 4 == 3 else "GBP" if n % 8 == 5 else "USD"


def load(url: str, users: int, per_user: int, days: int) -> None:
    started = time.monotonic()
    kinds = templates()
    columns = list(account_row("u0", kinds[0]))
    with psycopg.connect(url) as connection:
        connection.execute("TRUNCATE users, exchange_rates CASCADE")
        copy_users(connection, users)
        with connection.cursor().copy(f"COPY accounts ({', '.join(columns)}) FROM STDIN") as copy:
            for user in range(users):
                for n in range(per_user):
                    account = replace(
                        kinds[n % len(kinds)],
                        id=f"u{user}-acc{n}",
                        currency=currency_of(n),
                        balance=Decimal(f"{1200.45 + 10 * n + user % 100:.2f}"),
                    )
                    row = account_row(f"u{user}", account)
                    row["details"] = dumps_bytes(row["details"]).decode()
                    copy.write_row(list(row.values()))
    store = SqlAccountRepository(make_engine(url))
    first = TODAY - timedelta(days=days - 1)
    made = make_history_room(store, TODAY, since=first)
    print(f"loaded {users:,} users, {users * per_user:,} accounts; made {len(made)} months")
    with psycopg.connect(url) as connection:
        # A balance a day: a drift up to today's, and a weekly swing.
        connection.execute(
            "INSERT INTO balance_history (account_pk, day, balance) "
            "SELECT a.pk, %s::date + i, round((a.balance * (0.9 + 0.1 * i / %s) "
            "+ 50 * sin(i / 7.0 + a.pk))::numeric, 2) "
            "FROM accounts a CROSS JOIN generate_series(0, %s) AS i",
            [first, days - 1, days - 1],
        )
        connection.execute("ANALYZE")
    packaged = list(read_rates(PACKAGED_HISTORY.read_bytes()))
    last_day = max(rate.day for rate in packaged)
    carried = [
        Rate(last_day + timedelta(days=ahead), rate.currency, rate.per_euro)
        for rate in packaged
        if rate.day == last_day
        for ahead in range(1, (TODAY - last_day).days + 1)
    ]
    store.store_rates([*packaged, *carried])
    store.close()
    print(f"loaded {users * per_user * days:,} balances in {time.monotonic() - started:.0f} s")


def percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms"


def series_query(days: int) -> str:
    return f"from={TODAY - timedelta(days=days - 1)}&to={TODAY}&interval=day&currency=USD"


def measure_series(url: str, users: int, days: int, requests_: int) -> None:
    query = series_query(days)
    env = {
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_SEED_DATA": "",
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
    }
    with serving(env) as (base, _), requests.Session() as session:
        timings = []
        for n in range(50 + requests_):
            asked = PICK.randrange(users)
            started = time.perf_counter()
            answer = session.get(f"{base}/users/u{asked}/net-worth?{query}", timeout=10)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["points"]) == days, answer.text[:300]
            if n >= 50:
                timings.append(elapsed)
    print(f"net worth, {days} daily points, over HTTP: {percentiles(timings)}")

    store = SqlAccountRepository(make_engine(url))
    span = Span(TODAY - timedelta(days=days - 1), TODAY, Interval.DAY)
    gc.collect()
    gc.freeze()  # as the server does once loaded (app/entrypoints/gunicorn_settings.py)
    reads, totals = [], []
    for _ in range(requests_):
        user = f"u{PICK.randrange(users)}"
        started = time.perf_counter()
        store.balance_history(user, span.start, span.end)
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        net_worth_series(store, store, user, span, TODAY, "USD")
        totals.append(time.perf_counter() - started)
    print(
        f"  in-process: the whole series {percentiles(totals)}, "
        f"its history's read {percentiles(reads)}"
    )
    with psycopg.connect(url) as connection:
        plan = connection.execute(
            "EXPLAIN (ANALYZE, BUFFERS, SUMMARY) "
            "SELECT h.account_pk, h.day, h.balance FROM accounts a JOIN balance_history h "
            "ON h.account_pk = a.pk AND h.day >= %(start)s AND h.day <= %(end)s "
            "WHERE a.user_id = 'u1'",
            {"start": span.start, "end": span.end},
        ).fetchall()
    print("  PostgreSQL: " + "; ".join(line for (line,) in plan if "Time" in line))
    store.close()


@contextmanager
def history_recorded(recorded: bool) -> Iterator[None]:
    if recorded:
        yield
        return
    with mock.patch("app.adapters.storage.sql.accounts.record_changes", return_value=None):
        yield


def measure_syncs(url: str, sync_users: int, rounds: int) -> None:
    store = SqlAccountRepository(make_engine(url))
    kinds = [kind for kind in templates() if kind.type.value == "checking"] or templates()
    synced_users = [f"s{n}" for n in range(sync_users)]

    def accounts_of(user: str, step: int) -> list[Account]:
        return [
            replace(
                kinds[0],
                id=f"{user}-sync{n}",
                connection_id=f"{user}-c1",
                external_id=f"x{n}",
                balance=Decimal(1000 + n + step),
                balance_as_of=datetime.now(UTC),
            )
            for n in range(8)
        ]

    linked = Connection(
        id="",  # each user's own
        provider="sandbox",
        institution_id="ins_platypus",
        institution_name="First Platypus Bank",
        sealed_token="sealed",  # noqa: S106  # nosec B106 (no real token: nothing is asked of the provider)
        item_id="item",
    )
    for user in synced_users:
        with contextlib.suppress(UserNotFound):  # from a run before
            store.delete_user(user)
        store.add_user(user)
        store.add_connection(user, replace(linked, id=f"{user}-c1"))
        store.apply_sync(user, f"{user}-c1", accounts_of(user, 0))
    rates: dict[bool, list[float]] = {True: [], False: []}
    step = 0
    for _ in range(rounds):
        for recorded in (False, True):
            step += 1
            with history_recorded(recorded):
                started = time.perf_counter()
                for user in synced_users:
                    store.apply_sync(user, f"{user}-c1", accounts_of(user, step))
                rates[recorded].append(sync_users / (time.perf_counter() - started))
    store.close()
    pairs = ", ".join(
        f"{w:.0f} / {wo:.0f}" for w, wo in zip(rates[True], rates[False], strict=True)
    )
    ratio = statistics.median(rates[True]) / statistics.median(rates[False])
    print(f"syncs a second with history / without, by round: {pairs}; median ratio {ratio:.2f}x")


def measure_size(url: str) -> None:
    with psycopg.connect(url) as connection:
        size, rows, parts = connection.execute(
            "SELECT sum(pg_total_relation_size(inhrelid)), "
            "(SELECT count(*) FROM balance_history), count(*) "
            "FROM pg_inherits WHERE inhparent = 'balance_history'::regclass"
        ).fetchone() or (0, 0, 0)
    print(
        f"history: {rows:,} rows in {parts} partitions, {float(size) / 2**20:,.0f} MiB, "
        f"{float(size) / rows * 1e6 / 2**20:.1f} MiB per million rows (indexes included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    database_options(parser, "accounts_history_bench")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--sync-users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    url = migrated_database(args)
    with psycopg.connect(url) as connection:
        present = connection.execute("SELECT count(*) FROM balance_history").fetchone()
    if args.reload or not present or present[0] < args.users * args.accounts * args.days:
        load(url, args.users, args.accounts, args.days)
    measure_series(url, args.users, args.days, args.requests)
    measure_syncs(url, args.sync_users, args.rounds)
    measure_size(url)


if __name__ == "__main__":
    main()
