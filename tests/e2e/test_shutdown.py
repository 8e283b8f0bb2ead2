"""SIGTERM under load: gunicorn stops accepting, finishes what it accepted, and exits in time."""

from __future__ import annotations

import json
import signal
import threading
import time

import requests

from harness.gunicorn import serving
from tests.samples import valid_account

CLIENTS = 8


def test_sigterm_finishes_every_accepted_request() -> None:
    complete: list[int] = []
    broken: list[str] = []
    stop = threading.Event()

    def client(url: str, number: int) -> None:
        with requests.Session() as session:
            for n in range(100_000):
                if stop.is_set():
                    return
                try:
                    if n % 4:
                        response = session.get(f"{url}/users/user123/accounts", timeout=10)
                    else:
                        response = session.post(
                            f"{url}/users/user000/accounts",
                            json=valid_account("loan", id=f"c{number}-{n}"),
                            timeout=10,
                        )
                except requests.ConnectionError:
                    # Refused or closed before any answer: the server had stopped accepting.
                    # Whether it had read this request is settled below, from its own log.
                    continue
                except requests.RequestException as error:  # an answer cut short
                    broken.append(repr(error))
                    continue
                if response.status_code >= 500:
                    broken.append(f"{response.status_code}: {response.text}")
                else:
                    complete.append(response.status_code)

    with serving({"ACCOUNTS_RATE_LIMIT_PER_ADDRESS": ""}) as (url, server):
        threads = [threading.Thread(target=client, args=(url, n)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        # Under load for sure, however slow the machine: SIGTERM once 50 answers have come.
        deadline = time.monotonic() + 30
        while len(complete) < 50:
            assert time.monotonic() < deadline, "the clients never got going"
            time.sleep(0.01)
        answered_before = len(complete)
        server.process.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()
        assert server.process.wait(timeout=40) == 0  # a graceful exit, not a killed worker
        exit_seconds = time.monotonic() - sent_at
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.rest_of_log()

    assert answered_before >= 50
    assert broken == []
    assert exit_seconds < 30  # gunicorn's graceful timeout
    # Every response the app produced (it logs each one) reached its client, whole.
    produced = [json.loads(line) for line in server.stdout if '"app.requests"' in line]
    assert len(produced) == len(complete)
    assert {line["status"] for line in produced} <= {200, 201}
