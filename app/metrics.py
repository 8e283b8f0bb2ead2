"""Prometheus metrics at /metrics, correct under several gunicorn worker processes.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it, before any worker starts), each
process writes its counts to files there and /metrics adds them all up. Routes are labelled by
their template, never the raw path, so user ids cannot explode the number of series.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.repositories.base import AccountRepository

# Defined once per process, as prometheus_client expects; the registry is the process's.
REQUESTS = Counter(
    "accounts_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "accounts_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REPOSITORY_LATENCY = Histogram(
    "accounts_repository_call_duration_seconds",
    "Time of one call to the store.",
    ["operation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
)
ACCOUNTS_SERVED = Counter("accounts_served_total", "Accounts returned in account lists.")
CACHE_LOOKUPS = Counter(
    "accounts_cache_lookups_total",
    "Account lists looked up in the response cache, by result: hit, miss (rendered from the "
    "store), or shared (rendered once for several requests that missed at the same time).",
    ["result"],
)
CACHE_ERRORS = Counter(
    "accounts_cache_errors_total", "Calls to the cache's Redis that failed or timed out."
)

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class TimedRepository:
    """The repository, with every call's duration observed, labelled by the method's name."""

    def __init__(self, repository: AccountRepository) -> None:
        self._repository = repository

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._repository, name)
        if not callable(method):
            return method
        observe = REPOSITORY_LATENCY.labels(name).time

        def timed(*args: Any, **kwargs: Any) -> Any:
            with observe():
                return method(*args, **kwargs)

        # Kept, so that later calls find it as an attribute and skip __getattr__ and the lookup.
        setattr(self, name, timed)
        return timed


def timed_repository(repository: AccountRepository) -> AccountRepository:
    # Duck-typed on purpose: it answers every method the interface has, by delegation.
    timed: AccountRepository = TimedRepository(repository)  # type: ignore[assignment]
    return timed


def _observe(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule else "(unmatched)"
    started: float | None = g.get("started")
    if started is not None:
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    return response


def count_accounts_served(count: int) -> None:
    ACCOUNTS_SERVED.inc(count)


def register_metrics(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.after_request(_observe)
