"""Sends to RabbitMQ that never hold a request for long: RabbitMQ reached through a proxy that
keeps every connection open and then carries nothing (a paused broker, a stuck load balancer)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pika
import pytest
from flask.testing import FlaskClient

from app import create_app
from app.adapters.queue.broker import (
    PAUSE_SECONDS,
    SEND_TIMEOUT_SECONDS,
    BrokerQueue,
    declare_actor,
    make_broker,
)
from app.domain.errors import QueueUnavailable
from harness.tcp_proxy import TcpProxy

GOOD = {"username": "user_good", "password": "pass_good"}


@pytest.fixture
def queue_name(rabbitmq_url: str) -> Iterator[str]:
    name = f"accounts-test-{secrets.token_hex(4)}"
    yield name
    with pika.BlockingConnection(pika.URLParameters(rabbitmq_url)) as connection:
        channel = connection.channel()
        for queue in (name, f"{name}.DQ", f"{name}.XQ"):
            channel.queue_delete(queue)


@pytest.fixture
def proxy(rabbitmq_url: str) -> Iterator[TcpProxy]:
    address = urlsplit(rabbitmq_url)
    proxy = TcpProxy(address.hostname or "127.0.0.1", address.port or 5672)
    yield proxy
    proxy.thaw()
    proxy.stop()


def proxied(rabbitmq_url: str, proxy: TcpProxy) -> str:
    address = urlsplit(rabbitmq_url)
    return address._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}").geturl()


def timed_refusal(send: object) -> float:
    """Seconds until `send()` raised QueueUnavailable."""
    started = time.monotonic()
    with pytest.raises(QueueUnavailable):
        send()  # type: ignore[operator]
    return time.monotonic() - started


def test_a_silent_broker_costs_a_send_two_seconds_then_none(
    rabbitmq_url: str, proxy: TcpProxy, queue_name: str
) -> None:
    broker = make_broker(proxied(rabbitmq_url, proxy))
    queue = BrokerQueue(broker, declare_actor(broker, queue_name, None))
    try:
        queue.send("u1", "job-1")  # connected, the queue declared, published and confirmed
        proxy.freeze()
        # On the open connection: the publish's confirm never comes.
        assert SEND_TIMEOUT_SECONDS - 0.1 < timed_refusal(lambda: queue.send("u1", "job-2")) < 3
        # Then every send is refused at once for a while, costing requests nothing.
        assert timed_refusal(lambda: queue.send("u1", "job-3")) < 0.05
        proxy.thaw()
        time.sleep(PAUSE_SECONDS)
        queue.send("u1", "job-4")  # back by itself
    finally:
        queue.close()


def test_a_broker_that_accepts_and_never_answers_is_bounded_too(
    rabbitmq_url: str, proxy: TcpProxy, queue_name: str
) -> None:
    proxy.freeze()  # new connections are accepted, and the AMQP handshake never answered
    broker = make_broker(proxied(rabbitmq_url, proxy))
    queue = BrokerQueue(broker, declare_actor(broker, queue_name, None))
    try:
        assert timed_refusal(lambda: queue.send("u1", "job-1")) < 3
        assert timed_refusal(lambda: queue.send("u1", "job-2")) < 0.05
    finally:
        queue.close()


def test_a_refresh_the_silent_queue_cannot_take_is_a_quick_503_and_reads_go_on(
    rabbitmq_url: str, proxy: TcpProxy, queue_name: str, sandbox_url: str
) -> None:
    app = create_app(
        {
            "PROVIDER_SANDBOX_URL": sandbox_url,
            "BROKER_URL": proxied(rabbitmq_url, proxy),
            "BROKER_QUEUE": queue_name,
        }
    )
    client: FlaskClient = app.test_client()
    try:
        proxy.freeze()
        started = time.monotonic()
        linked = client.post(
            "/users/user123/connections",
            json={"provider": "sandbox", "institutionId": "ins_platypus", "credentials": GOOD},
        )
        assert time.monotonic() - started < 3
        assert linked.status_code == 201, linked.get_json()  # linked all the same; its sync due
        refresh = f"/users/user123/connections/{linked.get_json()['id']}/refresh"
        for bound in (0.2, 3.0):  # refused at once while paused; after it, waits for RabbitMQ
            started = time.monotonic()
            refused = client.post(refresh)
            assert time.monotonic() - started < bound
            assert refused.status_code == 503
            assert refused.get_json()["type"].endswith("queue-unavailable")
            assert refused.headers["Retry-After"] == "5"
            time.sleep(PAUSE_SECONDS)
        started = time.monotonic()
        assert client.get("/users/user123/accounts").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 0.5
        # A refused refresh keeps nothing of its Idempotency-Key: once RabbitMQ is back, the same
        # key queues a job (the 503's was failed: should its message come late, none runs it).
        keyed = {"Idempotency-Key": "refresh-1"}
        assert client.post(refresh, headers=keyed).status_code == 503
        proxy.thaw()
        time.sleep(PAUSE_SECONDS)
        queued = client.post(refresh, headers=keyed)
        assert (queued.status_code, queued.get_json()["status"]) == (202, "queued")
        assert "Idempotent-Replayed" not in queued.headers
        replayed = client.post(refresh, headers=keyed)
        assert (replayed.status_code, replayed.data) == (202, queued.data)
    finally:
        proxy.thaw()
        app.extensions["accounts-service"].close()
