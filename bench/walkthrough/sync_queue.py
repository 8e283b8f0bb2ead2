"""Chapter 6: syncs as jobs on RabbitMQ, taken by `accounts-service worker` processes."""

from __future__ import annotations

import time

import httpx
from cryptography.fernet import Fernet

from bench.walkthrough.asking import (
    answer,
    connection_status,
    job_status,
    link_anew,
    refresh,
    synced,
    until,
)
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.processes import Service
from bench.walkthrough.walk import LIST, Walk


def queue(walk: Walk) -> None:
    say("6. The queue: ACCOUNTS_BROKER_URL=amqp://… and `accounts-service worker` processes")
    url = walk.postgres()
    sandbox = walk.sandbox()
    broker, rabbitmq = walk.cut_off("RabbitMQ", walk.rabbitmq.geturl())
    # One name for every run, so that runs leave no queues behind; a message an interrupted run
    # left is for a job that is finished or gone, and is skipped.
    queue_name = "accounts-walkthrough"
    common = {
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox,
        "ACCOUNTS_TOKEN_KEY": Fernet.generate_key().decode(),
        "ACCOUNTS_SYNC_INTERVAL_SECONDS": "0",
    }
    threads = walk.service(common)
    say("  before, no broker: jobs on the service's own threads")
    link_and_refresh(threads)
    threads.retire()

    queued = {**common, "ACCOUNTS_BROKER_URL": broker, "ACCOUNTS_BROKER_QUEUE": queue_name}
    service = walk.service(queued)
    workers = walk.workers(2, queued)
    say("  after, RabbitMQ and two worker processes")
    connection = link_and_refresh(service)

    for worker in workers:
        worker.stop()
    job = refresh(service, connection)
    time.sleep(1)
    waiting = job_status(service, job)
    walk.workers(1, queued)
    took = until(lambda: job_status(service, job) == "succeeded", 60, "the queued job to run")
    say(
        f"  workers stopped, a refresh stays {waiting}; a worker started: "
        f"succeeded {took:.1f} s later"
    )

    rabbitmq.stop()
    refused = httpx.post(f"{service.url}{connection}/refresh")
    listed = httpx.get(f"{service.url}{LIST}")
    say(f"  RabbitMQ cut off: a refresh answers {answer(refused)}; the list {listed.status_code}")
    expect(refused.status_code == 503, "a refresh refused while the broker is away")
    expect(listed.status_code == 200, "reads go on without the broker")
    rabbitmq.start()
    started = time.monotonic()
    until(lambda: httpx.post(f"{service.url}{connection}/refresh").status_code == 202, 60, "202")
    job = refresh(service, connection)  # the one just queued, or a new one
    synced(service, job, "a sync after the broker's return")
    took = time.monotonic() - started
    say(f"  RabbitMQ back: a refresh is queued and synced again {took:.1f} s later")


def link_and_refresh(service: Service) -> str:
    """Links user123's bank and waits for its first sync, then 9 more users' banks, then
    refreshes all 10 at once; says how long each took. Answers user123's connection's path."""

    def link(user: str) -> str:
        return link_anew(service, user)

    def synced(connection: str) -> bool:
        return connection_status(service, connection) == "healthy"

    started = time.monotonic()
    connections = [link("user123")]
    until(lambda: synced(connections[0]), 60, "the first sync")
    first = time.monotonic() - started
    started = time.monotonic()
    connections += [link(f"u{n}") for n in range(9)]
    until(lambda: all(synced(connection) for connection in connections[1:]), 120, "9 syncs")
    linked = time.monotonic() - started
    started = time.monotonic()
    jobs = [refresh(service, connection) for connection in connections]
    until(lambda: all(job_status(service, job) == "succeeded" for job in jobs), 120, "10 syncs")
    refreshed = time.monotonic() - started
    say(
        f"    one link until its accounts are in: {first:.2f} s; 9 more, all synced: "
        f"{linked:.1f} s; 10 refreshes asked in a row, all done: {refreshed:.1f} s"
    )
    return connections[0]
