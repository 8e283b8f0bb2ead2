"""`accounts-service worker`: runs sync jobs from RabbitMQ, and the schedule, until told to stop.

Run as many as the queue needs, on as many hosts (docs/scaling.md): RabbitMQ hands each message
to one of them, a job's lease keeps two from running it at once, and the schedule's claims keep
two hosts from requesting the same sync.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from typing import Any

import dramatiq
from prometheus_client import start_http_server

from app.adapters.logs import configure_logging
from app.adapters.queue.broker import declare_actor, make_broker
from app.adapters.queue.running import attempt
from app.config import ConfigurationError
from app.wiring import build_components, schedule_of

log = logging.getLogger(__name__)


def run(settings: Mapping[str, Any], threads: int, metrics_address: tuple[str, int] | None) -> None:
    """Raises ConfigurationError, with a one-line reason, when it cannot start."""
    url = settings["BROKER_URL"]
    if not url:
        raise ConfigurationError(
            "set ACCOUNTS_BROKER_URL (e.g. amqp://guest:guest@127.0.0.1:5672/%2F): the worker "
            "takes its jobs from RabbitMQ"
        )
    configure_logging()
    # It answers no HTTP request, so it checks no bearer token: no JWT key to configure.
    components = build_components({**settings, "AUTH": "off"})
    aggregation = components.aggregation
    broker = make_broker(str(url))
    declare_actor(
        broker,
        str(settings["BROKER_QUEUE"]),
        lambda user_id, job_id: attempt(aggregation, user_id, job_id),
    )
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=200)
    scheduler = schedule_of(settings, aggregation, components.store, components.refresh_rates)
    if metrics_address is not None:
        start_http_server(metrics_address[1], addr=metrics_address[0])
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker.start()
    scheduler.start()
    log.info("worker ready: %d threads", threads)
    stopping.wait()
    log.info("worker stopping: finishing the jobs under way")
    scheduler.stop()
    worker.stop()
    broker.close()
    components.close()
