"""Probes: /healthz (the process answers) and /readyz (what it depends on answers, and fast)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from flask import Blueprint, Flask, Response, current_app

from app.entrypoints.http.context import components_of
from app.entrypoints.http.contract import Answer, contract
from app.entrypoints.http.http import json_response
from app.entrypoints.http.problems import Problem, problem_response_of

CHECK_TIMEOUT_SECONDS = 1.0

blueprint = Blueprint("health", __name__)
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readiness")


@blueprint.get("/healthz")
@contract(
    "Liveness: the process answers.",
    [Answer(200, "Alive.", {"type": "object", "properties": {"status": {"const": "alive"}}})],
)
def healthz() -> Response:
    return json_response({"status": "alive"})


def _redis_check(url: str) -> Callable[[], None]:
    def ping() -> None:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()

    return ping


def _dependencies(app: Flask) -> dict[str, Callable[[], None]]:
    checks = {name: store.ping for name, store in components_of(app).stores.items()}
    if app.config["REDIS_URL"]:
        checks["redis"] = _redis_check(app.config["REDIS_URL"])
    return checks


@blueprint.get("/readyz")
@contract(
    "Readiness: the database (and replica, when set) answer within a second. The 503 names "
    "what does not, in `checks`. Redis, when set, is reported in `checks` but never makes the "
    "service unready.",
    [
        Answer(
            200,
            "Ready.",
            {
                "type": "object",
                "properties": {
                    "status": {"const": "ready"},
                    "checks": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        )
    ],
    errors=[503],
)
def readyz() -> Response:
    """Ready when the database (and replica) answer within a second; checks run side by side."""
    futures = {name: _checks.submit(check) for name, check in _dependencies(current_app).items()}
    results = {}
    for name, future in futures.items():
        try:
            future.result(timeout=CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except FutureTimeout:
            results[name] = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        except Exception as error:  # any failure means the same: not ready
            results[name] = f"{type(error).__name__}"
    # Redis only speeds things up (the cache) and shares counts (rate limits): without it the
    # service answers all the same, so it is reported but never takes the service out of rotation.
    down = sorted(name for name, result in results.items() if result != "ok" and name != "redis")
    if down:
        return problem_response_of(
            Problem(
                503,
                "not-ready",
                "Not ready",
                f"Not answering: {', '.join(down)}.",
                {"Retry-After": "1"},
                checks=results,
            )
        )
    return json_response({"status": "ready", "checks": results})
