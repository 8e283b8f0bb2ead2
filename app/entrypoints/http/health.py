"""Probes: /healthz (the process answers) and /readyz (what it depends on answers, and fast)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, Flask, Response, current_app

from app.adapters.redis_client import LazyRedis
from app.entrypoints.http.context import components_of
from app.entrypoints.http.contract import Answer, contract
from app.entrypoints.http.http import json_response
from app.entrypoints.http.problems import Problem, problem_response_of

CHECK_TIMEOUT_SECONDS = 1.0
#: What the service cannot answer without.
NEEDED = frozenset({"database"})

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
        client = LazyRedis(url, CHECK_TIMEOUT_SECONDS)
        try:
            client().ping()
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
    "Readiness: the database answers within a second. The 503 names what does not, in "
    "`checks`. Read replicas and Redis, when set, are reported in `checks` but never make the "
    "service unready: reads go to the primary without them.",
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
    """Ready when the database answers within a second; checks run side by side."""
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
    # Replicas and Redis only speed things up (reads, the cache) and share counts (rate limits):
    # without them the service answers all the same, so they are reported but never take the
    # service out of rotation.
    down = sorted(name for name, result in results.items() if result != "ok" and name in NEEDED)
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
