"""/metrics, and the request counts and latencies every response adds to."""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from app.adapters.metrics import LATENCY, REQUESTS
from app.entrypoints.http.contract import Answer, contract

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
@contract(
    "Prometheus metrics, summed over every worker process.",
    [Answer(200, "Prometheus text format.", {"type": "string"}, "text/plain")],
)
def metrics() -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


#: Methods labelled as themselves; any other is "other", since a client can send any token as a
#: method and every new label value would be a series kept for good.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _observe(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule else "(unmatched)"
    method = request.method if request.method in METHODS else "other"
    started: float | None = g.get("started")
    if started is not None:
        LATENCY.labels(method, route).observe(time.perf_counter() - started)
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    return response


def register_metrics(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.after_request(_observe)
