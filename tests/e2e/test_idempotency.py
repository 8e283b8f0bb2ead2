"""Idempotency-Key against live gunicorn workers: racing on one key, killed mid-request, an answer
lost on the way (the rules through the test client: tests/unit/test_idempotency.py)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from flask.testing import FlaskClient

from app.adapters.exact_json import dumps_bytes, loads_exact
from harness.gunicorn import DATABASE_WORKERS, serving
from tests.databases import emptied
from tests.samples import valid_account

NEW_LOAN = {key: value for key, value in valid_account("loan").items() if key != "id"}


def account_ids(client: FlaskClient, user: str = "user123") -> list[str]:
    return [
        found["id"] for found in loads_exact(client.get(f"/users/{user}/accounts").data)["accounts"]
    ]


def test_eight_clients_racing_one_key_on_live_workers_make_one_account(postgres_url: str) -> None:
    env = {
        "ACCOUNTS_DATABASE_URL": emptied(postgres_url),
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_SEED_DATA": "seed_data.json",
    }
    with serving(env) as (url, server):
        server.wait_for_workers(DATABASE_WORKERS)
        start = threading.Barrier(8)

        def post(_: int) -> httpx.Response:
            start.wait()
            return httpx.post(
                f"{url}/users/user000/accounts",
                json=NEW_LOAN,
                headers={"Idempotency-Key": "race-1"},
                timeout=10,
            )

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, range(8)))
        statuses = sorted(answer.status_code for answer in answers)
        assert set(statuses) <= {201, 409}, statuses
        for waiting in (answer for answer in answers if answer.status_code == 409):
            assert waiting.json()["type"] == (
                "tag:accounts-service,2026:problems/idempotency-key-in-use"
            )
            assert waiting.headers["Retry-After"] == "1"
        created = {answer.json()["id"] for answer in answers if answer.status_code == 201}
        assert len(created) == 1
        listed: list[dict[str, Any]] = httpx.get(f"{url}/users/user000/accounts").json()["accounts"]
        assert [found["id"] for found in listed] == list(created)
        # The ones told to wait get the same account when they retry.
        retried = httpx.post(
            f"{url}/users/user000/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "race-1"}
        )
        assert (retried.status_code, retried.json()["id"]) == (201, next(iter(created)))


def _waiting_on_a_lock(database_url: str, statement: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as watcher:
        found = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            [statement + "%"],
        ).fetchone()
    return bool(found and found[0])


def _until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("held_at", ["before the effect", "after the effect, before the answer"])
def test_a_worker_killed_mid_request_leaves_the_key_to_a_retry_that_creates_once(
    postgres_url: str, held_at: str
) -> None:
    """The request is held by a lock the test takes (the user's row before its account is
    written; the key's row after it is written and before its answer is recorded), its worker is
    SIGKILLed there, and the client retries with the same key."""
    database = emptied(postgres_url)
    env = {
        "ACCOUNTS_DATABASE_URL": database,
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_SEED_DATA": "seed_data.json",
        "ACCOUNTS_IDEMPOTENCY_LEASE_SECONDS": "2",
    }
    created = "/users/user000/accounts"
    key = {"Idempotency-Key": f"crash-{held_at}"}
    with serving(env) as (url, server), psycopg.connect(database) as holder:
        server.wait_for_workers(DATABASE_WORKERS)
        before = httpx.get(url + created).json()["accounts"]
        holder.execute("SELECT 1 FROM users WHERE id = 'user000' FOR UPDATE")
        posting = ThreadPoolExecutor(1)
        lost = posting.submit(httpx.post, url + created, json=NEW_LOAN, headers=key, timeout=30)
        _until(lambda: _waiting_on_a_lock(database, "UPDATE users"), "the request waits")
        if held_at != "before the effect":
            with psycopg.connect(database) as key_holder:
                key_holder.execute(
                    "SELECT 1 FROM idempotency_keys WHERE key = %s FOR UPDATE",
                    [key["Idempotency-Key"]],
                )
                holder.commit()  # the account is written; the answer waits for the key's row
                _until(
                    lambda: _waiting_on_a_lock(database, "UPDATE idempotency_keys"),
                    "the answer waits",
                )
                for pid in server.worker_pids():
                    os.kill(pid, signal.SIGKILL)
        else:
            for pid in server.worker_pids():
                os.kill(pid, signal.SIGKILL)
            holder.commit()
        with pytest.raises(httpx.TransportError):
            lost.result(30)
        posting.shutdown()
        server.wait_for_workers(DATABASE_WORKERS)
        # Until its lease is over the key is in use; then the retry runs it, once.
        deadline = time.monotonic() + 10
        while (retried := httpx.post(url + created, json=NEW_LOAN, headers=key)).status_code == 409:
            assert retried.headers["Retry-After"] == "1"
            assert time.monotonic() < deadline, "the dead request's key was never let go"
            time.sleep(0.2)
        assert retried.status_code == 201, retried.text
        assert "Idempotent-Replayed" not in retried.headers
        again = httpx.post(url + created, json=NEW_LOAN, headers=key)
        assert (again.status_code, again.content) == (201, retried.content)
        assert again.headers["Idempotent-Replayed"] == "true"
        listed = httpx.get(url + created).json()["accounts"]
        assert [found["id"] for found in listed] == [
            *(found["id"] for found in before),
            retried.json()["id"],
        ]


def test_an_answer_lost_on_the_way_is_replayed_with_its_account(postgres_url: str) -> None:
    """The account and its answer commit together: a client that never read the answer gets it
    from the retry, and the account is not made twice."""
    env = {
        "ACCOUNTS_DATABASE_URL": emptied(postgres_url),
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_SEED_DATA": "seed_data.json",
    }
    with serving(env) as (url, _):
        body = dumps_bytes(NEW_LOAN)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as unread:
            unread.sendall(
                b"POST /users/user000/accounts HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nIdempotency-Key: lost-1\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        _until(
            lambda: len(httpx.get(f"{url}/users/user000/accounts").json()["accounts"]) == 1,
            "the account is made",
        )
        retried = httpx.post(
            f"{url}/users/user000/accounts", json=NEW_LOAN, headers={"Idempotency-Key": "lost-1"}
        )
        assert (retried.status_code, retried.headers["Idempotent-Replayed"]) == (201, "true")
        listed = httpx.get(f"{url}/users/user000/accounts").json()["accounts"]
        assert [found["id"] for found in listed] == [retried.json()["id"]]
