"""The service as it is deployed: gunicorn with gunicorn.conf.py, spoken to over real HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.gunicorn import Gunicorn, serving, start_gunicorn
from tests.conftest import WriteSeed
from tests.samples import valid_account
from tests.unit.test_api_accounts import USER123_RESPONSE


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, Gunicorn]]:
    with serving() as running:
        yield running


def test_serves_the_original_example_over_http(live: tuple[str, Gunicorn]) -> None:
    base_url, _ = live
    with requests.Session() as session:  # one kept-alive connection for both requests
        response = session.get(f"{base_url}/users/user123/accounts")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.content == USER123_RESPONSE

        missing = session.get(f"{base_url}/users/nobody/accounts")
        assert missing.status_code == 404
        assert missing.headers["Content-Type"] == "application/problem+json"
        assert missing.json()["title"] == "User not found"


def test_runs_one_worker_process(live: tuple[str, Gunicorn]) -> None:
    # The in-memory store lives in a process: two workers would hold two copies of it.
    base_url, server = live
    assert requests.get(f"{base_url}/users/user123/accounts", timeout=5).ok
    # gunicorn forks its workers up to 0.1 s apart, so watch for a while rather than look once.
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        assert len(server.worker_pids()) == 1
        time.sleep(0.05)


def test_serves_another_seed_file_given_by_the_environment(write_seed: WriteSeed) -> None:
    seed = write_seed({"fixture-user": [valid_account("savings")]})
    with serving({"ACCOUNTS_SEED_DATA": str(seed)}) as (base_url, _):
        response = requests.get(f"{base_url}/users/fixture-user/accounts?type=savings", timeout=5)
    assert response.json()["accounts"][0]["details"]["routingNumber"] == "124003116"


def test_an_invalid_seed_stops_start_up_with_one_line(write_seed: WriteSeed) -> None:
    seed: Path = write_seed({"u1": [valid_account("credit", details__dueDate="2025-02-30")]})
    server = start_gunicorn({"ACCOUNTS_SEED_DATA": str(seed)})
    assert server.process.wait(timeout=30) == 1
    log = server.rest_of_log()
    assert log == [
        f"accounts-service: seed file {seed}: user 'u1', account 'c1': "
        "field 'details.dueDate': Not a valid date."
    ]
    assert not any(re.search("Listening at|Traceback", line) for line in log)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"ACCOUNTS_DATABASE_URL": "mysql://db/accounts", "ACCOUNTS_AUTH": "off"},
            "only sqlite and postgresql",
        ),
        (
            {"ACCOUNTS_DATABASE_URL": "sqlite:///{tmp}/new.db", "ACCOUNTS_AUTH": "off"},
            "run `accounts-service db upgrade` first",
        ),
        ({"ACCOUNTS_DATABASE_URL": "sqlite:///{tmp}/new.db"}, "ACCOUNTS_JWT_SECRET"),
    ],
)
def test_a_configuration_error_stops_start_up_with_one_line(
    env: dict[str, str], reason: str, tmp_path: Path
) -> None:
    server = start_gunicorn({name: value.format(tmp=tmp_path) for name, value in env.items()})
    assert server.process.wait(timeout=30) == 1
    [line] = server.rest_of_log()
    assert line.startswith("accounts-service: ")
    assert reason in line
