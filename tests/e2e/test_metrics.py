"""Prometheus metrics from a live server with several worker processes add up exactly."""

from __future__ import annotations

import string
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from random import Random

import requests
from flask.testing import FlaskClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from harness.gunicorn import DATABASE_WORKERS, serving
from tests.databases import emptied

LIST_ROUTE = "/users/<id:user_id>/accounts"
CLIENTS, REQUESTS_EACH = 8, 40
# Who each client asks for, in turn: two users with 3 and 4 accounts, and one that does not exist.
USERS = ["user123", "user789", "nobody"]
ACCOUNTS = {"user123": 3, "user789": 4, "nobody": 0}
SCHEDULE = [USERS[n % len(USERS)] for n in range(REQUESTS_EACH)] * CLIENTS


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def test_totals_add_up_across_worker_processes(tmp_path: Path) -> None:
    env = {
        "ACCOUNTS_DATABASE_URL": emptied(f"sqlite:///{tmp_path / 'metrics.db'}"),
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
    }
    with serving(env) as (url, server):
        server.wait_for_workers(DATABASE_WORKERS)  # several processes, each counting

        def traffic(client: int) -> int:
            # Separate connections, so that the requests spread over the worker processes.
            for n in range(REQUESTS_EACH):
                with requests.Session() as session:
                    user = USERS[n % len(USERS)]
                    session.get(f"{url}/users/{user}/accounts", timeout=10)
            return REQUESTS_EACH

        with ThreadPoolExecutor(CLIENTS) as pool:
            sent = sum(pool.map(traffic, range(CLIENTS)))
        text = requests.get(f"{url}/metrics", timeout=10).text

    requests_total = {
        (labels["route"], labels["status"]): value
        for labels, value in samples(text, "accounts_http_requests_total")
        if labels["method"] == "GET"
    }
    ok, missing = requests_total[(LIST_ROUTE, "200")], requests_total[(LIST_ROUTE, "404")]
    assert ok + missing == sent == len(SCHEDULE)
    assert missing == SCHEDULE.count("nobody")
    # Labelled by the route's template: no user id is ever a label.
    assert not any("user123" in route for route, _ in requests_total)
    latency_count = {
        labels["route"]: value
        for labels, value in samples(text, "accounts_http_request_duration_seconds_count")
    }
    assert latency_count[LIST_ROUTE] == sent
    [(_, served)] = samples(text, "accounts_served_total")
    assert served == sum(ACCOUNTS[user] for user in SCHEDULE)
    repository_calls = {
        labels["operation"]: value
        for labels, value in samples(text, "accounts_repository_call_duration_seconds_count")
    }
    # Every request reads the user's revision (its listing); only cache misses read the
    # accounts, at most once per user and worker, since nothing is written.
    assert repository_calls["listing"] == sent
    lookups = {
        labels["result"]: value for labels, value in samples(text, "accounts_cache_lookups_total")
    }
    assert sum(lookups.values()) == ok
    assert lookups.get("miss", 0) == repository_calls["list_accounts"]
    assert 2 <= repository_calls["list_accounts"] <= 2 * DATABASE_WORKERS


def test_methods_nobody_defined_add_no_series(client: FlaskClient) -> None:
    random = Random(13)  # noqa: S311 (a repeatable choice of methods, not a secret)
    paths = ["/users/user123/accounts", "/users/user123", "/nowhere", "/healthz"]

    def send_random_methods(count: int) -> None:
        for _ in range(count):
            method = "".join(random.choices(string.ascii_uppercase, k=random.randint(3, 12)))
            response = client.open(random.choice(paths), method=method)
            assert response.status_code in (404, 405)

    # Every label set there can be: "other" with each route and its status, and the scrape's own.
    for path in paths:
        client.open(path, method="WARMUP")
    client.get("/metrics")
    before = client.get("/metrics").data.decode()
    send_random_methods(1000)
    after = client.get("/metrics").data.decode()
    assert len(after.splitlines()) == len(before.splitlines())
    assert 'method="other"' in after


def test_the_scrape_says_its_format_once(client: FlaskClient) -> None:
    assert client.get("/metrics").headers["Content-Type"] == CONTENT_TYPE_LATEST
