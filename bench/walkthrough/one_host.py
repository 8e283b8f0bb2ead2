"""Chapters 1 and 2: the whole service in one process, then SQLite and PostgreSQL with indexes."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine

from app.adapters.storage.sql import list_query
from bench.walkthrough.asking import answer, survives_restart, timed, until
from bench.walkthrough.dataset import ACCOUNTS_PER_USER, SYNTHETIC_USERS
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.walk import LIST, Walk


def memory(walk: Walk) -> None:
    say("1. In memory: `gunicorn -c gunicorn.conf.py wsgi:app`, nothing else")
    service = walk.service({})
    walk.load("user123's list", f"{service.url}{LIST}")
    service, kept = survives_restart(walk, {}, service)
    say(
        "  an account added, then a restart: "
        + ("still there" if kept else "gone (back to the seed file)")
    )
    expect(not kept, "memory keeps nothing across a restart")


def database(walk: Walk) -> None:
    say("2a. SQLite: ACCOUNTS_DATABASE_URL=sqlite:///… (the response cache off, to see the store)")
    sqlite = f"sqlite:///{walk.scratch / 'accounts.db'}"
    walk.run("db", "upgrade", "--database-url", sqlite)
    env = {"ACCOUNTS_DATABASE_URL": sqlite, "ACCOUNTS_CACHE_MAX_BYTES": "0"}
    service = walk.service(env)
    walk.load("user123's list", f"{service.url}{LIST}")
    service, kept = survives_restart(walk, env, service)
    say(f"  an account added, then a restart: {'still there' if kept else 'gone'}")
    expect(kept, "SQLite keeps an acknowledged write across a restart")
    service.retire()
    plan = explain(sqlite, "EXPLAIN QUERY PLAN ", "u1")
    say(f"  the list's query plan: {plan}")
    expect("accounts_user_id_type_idx" in plan or "accounts_user_id_id_key" in plan, "an index")

    say()
    say(
        f"2b. PostgreSQL: ACCOUNTS_DATABASE_URL=postgresql://… ({SYNTHETIC_USERS:,} users, "
        f"{SYNTHETIC_USERS * ACCOUNTS_PER_USER:,} accounts; cache off)"
    )
    url = walk.postgres(fresh=True)
    env = {"ACCOUNTS_DATABASE_URL": url, "ACCOUNTS_CACHE_MAX_BYTES": "0"}
    service = walk.service(env)
    walk.load("user123's list", f"{service.url}{LIST}")
    walk.random_users("random users' lists", service)
    indexed = explain(url, "EXPLAIN ANALYZE ", "u12345")
    scanned = explain(url, "EXPLAIN ANALYZE ", "u12345", index=False)
    say(f"  one list in PostgreSQL: {indexed}; without its index, {scanned}")
    proxied, proxy = walk.cut_off("PostgreSQL", url)
    service, kept = survives_restart(walk, {**env, "ACCOUNTS_DATABASE_URL": proxied}, service)
    say(f"  an account added, then a restart: {'still there' if kept else 'gone'}")
    expect(kept, "PostgreSQL keeps an acknowledged write across a restart")

    proxy.stop()
    refused, took = timed(lambda: httpx.get(f"{service.url}{LIST}", timeout=30))
    ready = httpx.get(f"{service.url}/readyz", timeout=30)
    say(
        f"  PostgreSQL cut off: the list answers {answer(refused)} in {took:.0f} ms; "
        f"/readyz {ready.status_code}"
    )
    expect(refused.status_code == 503, "a 503 while the database is away")
    proxy.start()
    back = until(lambda: httpx.get(f"{service.url}{LIST}").status_code == 200, 30, "200 again")
    say(f"  PostgreSQL back: the list answers 200 again after {back:.1f} s")


def explain(url: str, prefix: str, user: str, index: bool = True) -> str:
    """The list's own query (sql.py's list_query) through EXPLAIN: the plan's access path, and
    with ANALYZE its execution time."""
    engine = create_engine(url)
    query, parameters = list_query(user)
    statement = query.params(parameters).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        if not index:  # what the same query costs when the planner may not use an index
            connection.exec_driver_sql("SET enable_indexscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
        lines = [str(row[-1]) for row in connection.exec_driver_sql(f"{prefix}{statement}")]
    engine.dispose()
    if prefix.startswith("EXPLAIN QUERY PLAN"):
        return " / ".join(line for line in lines if "accounts" in line)
    access = next(line.strip(" ->") for line in lines if " on accounts" in line)
    execution = next(line for line in lines if line.startswith("Execution Time"))
    return f"{access.split('  ')[0]}, {execution.split(': ')[1]}"
