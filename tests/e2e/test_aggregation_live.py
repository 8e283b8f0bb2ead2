"""Aggregation end to end, as deployed: gunicorn (two workers) on PostgreSQL, `accounts-service
worker` processes taking jobs from RabbitMQ, and the provider sandbox, each its own process.

RabbitMQ is reached through a proxy the tests can cut, to play a broker that goes away.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pika
import pytest
from cryptography.fernet import Fernet

from app.adapters.queue.broker import ACTOR_NAME, make_broker
from app.entrypoints.provider_sandbox import DEFAULT_DATA
from harness import REPO_ROOT, free_port
from harness.gunicorn import Gunicorn, serving
from harness.tcp_proxy import TcpProxy
from tests import waiting
from tests.databases import emptied

SECRET = "live-webhook-secret"
GOOD = {"username": "user_good", "password": "pass_good"}


#: Where the workers of the running stack log, quoted when something never happens.
WORKER_LOGS: list[Path] = []


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    """tests/waiting.py's, with the workers' logs when it never happens."""

    def why() -> str:
        logs = "\n".join(f"--- {log}:\n{log.read_text()[-3000:]}" for log in WORKER_LOGS)
        return f"never happened; the workers' logs:\n{logs}"

    return waiting.eventually(check, timeout, every=0.1, why=why)


@dataclass
class Worker:
    process: subprocess.Popen[str]
    metrics_url: str

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Stack:
    url: str
    sandbox: str
    env: dict[str, str]
    proxy: TcpProxy
    gunicorn: Gunicorn
    logs: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self) -> Worker:
        metrics_port = free_port()
        log = self.logs / f"worker-{len(self.workers)}-{metrics_port}.log"
        WORKER_LOGS.append(log)
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.entrypoints.cli",
                    "worker",
                    "--threads",
                    "4",
                    "--metrics-port",
                    str(metrics_port),
                ],
                cwd=REPO_ROOT,
                # The service's settings but for authentication: a worker checks no tokens, and
                # needs no JWT key, whatever ACCOUNTS_AUTH says.
                env={
                    **os.environ,
                    **{name: value for name, value in self.env.items() if name != "ACCOUNTS_AUTH"},
                },
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        eventually(lambda: "worker ready" in log.read_text() or process.poll() is not None)
        assert process.poll() is None, log.read_text()
        worker = Worker(process, f"http://127.0.0.1:{metrics_port}/metrics")
        self.workers.append(worker)
        return worker

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=10)

    def link(self, user: str = "user123", institution: str = "ins_platypus") -> tuple[str, str]:
        """Links; answers the connection's URL and the sandbox's item id for it."""
        before = set(httpx.get(f"{self.sandbox}/sandbox/admin/items").json())
        answer = self.post(
            f"/users/{user}/connections",
            {"provider": "sandbox", "institutionId": institution, "credentials": GOOD},
        )
        assert answer.status_code == 201, answer.text
        [item_id] = set(httpx.get(f"{self.sandbox}/sandbox/admin/items").json()) - before
        return answer.headers["Location"], item_id

    def connection(self, location: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(location).json()
        return found

    def finished_job(self, location: str, timeout: float = 30) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = self.get(location).json()
            return job if job["status"] in ("succeeded", "failed") else None

        found: dict[str, Any] = eventually(finished, timeout)
        return found

    def synced(self, connection_id: str, user: str = "user123") -> list[dict[str, Any]]:
        accounts = self.get(f"/users/{user}/accounts").json()["accounts"]
        return [account for account in accounts if account["connectionId"] == connection_id]


def _delete_queues(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
        channel.queue_delete(name)
    connection.close()


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.entrypoints.cli",
            "provider-sandbox",
            "--port",
            "0",
            "--webhook-secret",
            SECRET,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert sandbox.stdout is not None
    sandbox_url = sandbox.stdout.readline().strip()
    broker = pika.URLParameters(rabbitmq_url)
    proxy = TcpProxy(broker.host, broker.port)
    queue = f"accounts-sync-test-{secrets.token_hex(4)}"
    port = free_port()
    env = {
        "ACCOUNTS_DATABASE_URL": emptied(postgres_url),
        "ACCOUNTS_AUTH": "off",
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
        "ACCOUNTS_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F",
        "ACCOUNTS_BROKER_QUEUE": queue,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox_url,
        "ACCOUNTS_TOKEN_KEY": Fernet.generate_key().decode(),
        "ACCOUNTS_WEBHOOK_SECRET": SECRET,
        "ACCOUNTS_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhooks/sandbox",
        "ACCOUNTS_SYNC_RETRY_BASE_SECONDS": "0.2",
        "ACCOUNTS_SYNC_MAX_ATTEMPTS": "3",
        "ACCOUNTS_SYNC_SCHEDULE_TICK_SECONDS": "0.5",
    }
    try:
        with serving({**env, "PORT": str(port)}) as (url, server):
            live = Stack(url, sandbox_url, env, proxy, server, tmp_path_factory.mktemp("workers"))
            try:
                live.start_worker()
                yield live
            finally:
                for worker in live.workers:
                    worker.stop()
    finally:
        proxy.stop()
        sandbox.terminate()
        sandbox.wait(timeout=10)
        sandbox.stdout.close()
        _delete_queues(rabbitmq_url, queue)


@pytest.fixture(autouse=True)
def no_fault(stack: Stack) -> Iterator[None]:
    yield
    httpx.post(f"{stack.sandbox}/sandbox/admin/fault", json={"kind": None})


def test_link_sync_change_and_refresh_with_no_stale_list(stack: Stack) -> None:
    location, item_id = stack.link()
    connection = eventually(
        lambda: (found := stack.connection(location))["status"] == "healthy" and found
    )
    assert connection["accountCount"] == 4
    accounts = stack.synced(connection["id"])
    assert [account["externalId"] for account in accounts] == [
        "plat-checking-0000",
        "plat-savings-1111",
        "plat-credit-3333",
        "plat-student-7777",
    ]
    assert all(account["status"] == "open" for account in accounts)
    assert accounts[0]["balanceAsOf"].startswith("2026-11-25T08:00:00")
    before = stack.get("/users/user123/accounts")  # cached in both gunicorn workers from now on
    stack.get("/users/user123/accounts")

    changed = [
        {**account, "balances": {**account["balances"], "current": 7.25}}
        for account in _sandbox_accounts("ins_platypus")
    ][:2]
    httpx.put(
        f"{stack.sandbox}/sandbox/admin/items/{item_id}/accounts", json=changed
    ).raise_for_status()
    refreshed = stack.post(f"{location}/refresh")
    assert refreshed.status_code == 202
    job = stack.finished_job(refreshed.headers["Location"])
    assert (job["status"], job["accountsUpdated"], job["accountsClosed"]) == ("succeeded", 2, 2)
    for _ in range(4):  # whichever gunicorn worker answers, the list is the new one
        after = stack.get("/users/user123/accounts")
        assert after.headers["ETag"] != before.headers["ETag"]
        shown = {
            a["externalId"]: a
            for a in after.json()["accounts"]
            if a["connectionId"] == connection["id"]
        }
        assert shown["plat-checking-0000"]["balance"] == 7.25
        assert [shown[key]["status"] for key in ("plat-credit-3333", "plat-student-7777")] == [
            "closed",
            "closed",
        ]


def _sandbox_accounts(institution: str) -> list[dict[str, Any]]:
    import json

    data = json.loads(DEFAULT_DATA.read_text())
    accounts: list[dict[str, Any]] = data["institutions"][institution]["accounts"]
    return accounts


def test_a_worker_killed_mid_sync_leaves_the_job_to_another_and_nothing_twice(stack: Stack) -> None:
    location, _ = stack.link("user456", "ins_tattersall")
    eventually(lambda: stack.connection(location)["status"] == "healthy")
    connection_id = stack.connection(location)["id"]
    httpx.post(
        f"{stack.sandbox}/sandbox/admin/fault", json={"kind": "slow", "seconds": 3, "times": 1}
    ).raise_for_status()
    job_location = stack.post(f"{location}/refresh").headers["Location"]
    eventually(lambda: stack.get(job_location).json()["status"] == "running")
    stack.workers[0].kill()  # in the middle of the provider's slow answer
    killed = time.monotonic()
    assert stack.get(job_location).json()["status"] == "running"
    stack.workers.pop(0)
    stack.start_worker()
    job = stack.finished_job(job_location, timeout=60)
    assert job["status"] == "succeeded"
    # Taken over once the dead worker's lease (15 s, renewed while it ran) had passed.
    assert time.monotonic() - killed < 15 + 10
    synced = stack.synced(connection_id, "user456")
    assert [account["externalId"] for account in synced] == ["tatt-ira-5555"]


def test_a_broker_away_refuses_refreshes_keeps_reads_and_syncing_resumes_by_itself(
    stack: Stack,
) -> None:
    stack.proxy.stop()
    try:
        # Linking still works: the first sync waits for the queue.
        location, _ = stack.link("user789", "ins_platypus")
        refused = stack.post(f"{location}/refresh")
        if refused.status_code == 202:
            # The worker's schedule was queueing this connection's first sync at that moment:
            # the refresh is answered with that job, which the queue refuses all the same.
            job = stack.finished_job(refused.headers["Location"])
            assert (job["status"], job["error"]["code"]) == ("failed", "QUEUE_UNAVAILABLE")
        else:
            assert refused.status_code == 503
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.json()["type"].endswith("queue-unavailable")
            assert refused.headers["Retry-After"] == "5"  # as the docs say
        assert stack.get("/users/user789/accounts").status_code == 200
        assert stack.get(location).json()["status"] == "syncing"
    finally:
        stack.proxy.start()
    # Nobody asks again: the schedule sends the first sync once the queue is back.
    connection = eventually(
        lambda: (found := stack.connection(location))["status"] == "healthy" and found, timeout=90
    )
    assert connection["accountCount"] == 4


def test_poison_messages_end_in_the_dead_letter_queue(stack: Stack, rabbitmq_url: str) -> None:
    queue = stack.env["ACCOUNTS_BROKER_QUEUE"]
    broker = make_broker(rabbitmq_url)
    try:
        broker.declare_queue(queue)
        before = broker.get_queue_message_counts(queue)[2]
        # Arguments no job takes, and bytes that are not a message at all.
        broker.enqueue(
            dramatiq.Message(
                queue_name=queue, actor_name=ACTOR_NAME, args=("only-one",), kwargs={}, options={}
            )
        )
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
        connection.channel().basic_publish("", queue, b"\x00 not a message")
        connection.close()
        eventually(lambda: broker.get_queue_message_counts(queue)[2] == before + 2)
    finally:
        broker.close()
    # The worker goes on working.
    location, _ = stack.link("user123", "ins_tattersall")
    eventually(lambda: stack.connection(location)["status"] == "healthy")


def test_a_job_out_of_attempts_fails_shows_error_and_is_kept_as_a_dead_letter(
    stack: Stack, rabbitmq_url: str
) -> None:
    location, _ = stack.link("user456", "ins_platypus")
    eventually(lambda: stack.connection(location)["status"] == "healthy")
    queue = stack.env["ACCOUNTS_BROKER_QUEUE"]
    broker = make_broker(rabbitmq_url)
    before = broker.get_queue_message_counts(queue)[2]
    httpx.post(
        f"{stack.sandbox}/sandbox/admin/fault", json={"kind": "server_error"}
    ).raise_for_status()
    job = stack.finished_job(stack.post(f"{location}/refresh").headers["Location"])
    assert (job["status"], job["error"]["code"]) == ("failed", "INTERNAL_SERVER_ERROR")
    shown = stack.connection(location)
    assert (shown["status"], shown["error"]["code"]) == ("error", "INTERNAL_SERVER_ERROR")
    eventually(lambda: broker.get_queue_message_counts(queue)[2] == before + 1)
    broker.close()


def test_the_sandbox_webhooks_reach_the_service_signed(stack: Stack) -> None:
    location, item_id = stack.link("user789", "ins_tattersall")
    eventually(lambda: stack.connection(location)["status"] == "healthy")
    sent = httpx.post(
        f"{stack.sandbox}/sandbox/admin/items/{item_id}/webhook",
        json={
            "webhook_type": "ITEM",
            "webhook_code": "ERROR",
            "error": {"error_code": "ITEM_LOGIN_REQUIRED"},
        },
        timeout=10,
    )
    assert sent.json() == {"receiver_status": 200}
    assert stack.connection(location)["status"] == "login_required"
    sent = httpx.post(
        f"{stack.sandbox}/sandbox/admin/items/{item_id}/webhook",
        json={"webhook_type": "TRANSACTIONS", "webhook_code": "DEFAULT_UPDATE"},
        timeout=10,
    )
    assert sent.json() == {"receiver_status": 200}
    eventually(lambda: stack.connection(location)["status"] == "healthy")


def test_the_worker_reports_its_jobs(stack: Stack) -> None:
    metrics = httpx.get(stack.workers[-1].metrics_url).text
    assert 'accounts_sync_attempts_total{outcome="succeeded"}' in metrics
    assert "accounts_sync_attempt_duration_seconds_bucket" in metrics
    assert "accounts_sync_queue_depth" in metrics


def test_what_is_owed_health_update_mode_and_no_second_link_through_the_worker(
    stack: Stack,
) -> None:
    assert stack.post("/users", {"id": "owing"}).status_code == 201
    location, item_id = stack.link("owing", "ins_platypus")
    connection = eventually(
        lambda: (found := stack.connection(location))["status"] == "healthy" and found
    )
    # What the card and the loan owe came with the sync.
    payments = stack.get("/users/owing/payments?within=30").json()["payments"]
    assert [payment["accountName"] for payment in payments] == [
        "Plaid Credit Card",
        "Plaid Student Loan",
    ]
    # The same login again: a 409 naming this connection.
    again = stack.post(
        "/users/owing/connections",
        {"provider": "sandbox", "institutionId": "ins_platypus", "credentials": GOOD},
    )
    assert (again.status_code, again.json()["connectionId"]) == (409, connection["id"])

    def send(code: str, **more: Any) -> None:
        sent = httpx.post(
            f"{stack.sandbox}/sandbox/admin/items/{item_id}/webhook",
            json={"webhook_type": "ITEM", "webhook_code": code, **more},
            timeout=10,
        )
        assert sent.json() == {"receiver_status": 200}

    # Consent ending in two days: expiring.
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))
    send("PENDING_EXPIRATION", consent_expiration_time=soon)
    assert stack.connection(location)["status"] == "expiring"
    # A new account at the bank: the notice's sync, on a worker, takes it.
    accounts = _sandbox_accounts("ins_platypus")
    new = {**accounts[1], "account_id": "plat-cd-2222", "name": "Plaid CD", "mask": "2222"}
    put = httpx.put(
        f"{stack.sandbox}/sandbox/admin/items/{item_id}/accounts", json=[*accounts, new]
    )
    put.raise_for_status()
    send("NEW_ACCOUNTS_AVAILABLE")
    eventually(lambda: stack.connection(location)["accountCount"] == 5)
    eventually(lambda: stack.connection(location)["newAccountsAvailable"] is False)
    ids = [account["id"] for account in stack.synced(connection["id"], "owing")]
    # The bank wants a new login; update mode repairs the same connection.
    httpx.post(f"{stack.sandbox}/sandbox/admin/items/{item_id}/reset-login").raise_for_status()
    failed = stack.finished_job(stack.post(f"{location}/refresh").headers["Location"])
    assert failed["error"]["code"] == "ITEM_LOGIN_REQUIRED"
    repaired = stack.post(f"{location}/login", {"credentials": GOOD})
    assert repaired.status_code == 200, repaired.text
    job = stack.finished_job(f"/users/owing/sync-jobs/{repaired.json()['syncJobId']}")
    assert job["status"] == "succeeded"
    assert [account["id"] for account in stack.synced(connection["id"], "owing")] == ids
    # Broken again, then repaired at the provider: its notice brings it back and syncs it.
    httpx.post(f"{stack.sandbox}/sandbox/admin/items/{item_id}/reset-login").raise_for_status()
    stack.finished_job(stack.post(f"{location}/refresh").headers["Location"])
    assert stack.connection(location)["status"] == "login_required"
    send("LOGIN_REPAIRED")
    # Healthy again: shown as expiring, since its consent still ends in two days.
    eventually(lambda: stack.connection(location)["status"] == "expiring")
