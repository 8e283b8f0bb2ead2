"""Rate limits: one budget per client address, and one per bearer token, across all routes.

Counted in Redis when ACCOUNTS_REDIS_URL is set, so that every worker process (and machine)
shares one count; in this process's memory otherwise, which is exact for the one-process
in-memory store. If Redis stops answering, counting falls back to memory rather than failing
requests, and returns to Redis when it is back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from app.api.problems import Problem, problem_response_of

log = logging.getLogger(__name__)

#: Never limited: a burst of traffic must not make liveness and readiness probes or metric
#: scrapes fail, or the orchestrator would restart or unlist a service that is merely busy.
UNLIMITED_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.metrics"})


def client_address() -> str:
    return request.remote_addr or "unknown"


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_key() -> str:
    # The token itself is the credential, so it is what is counted, whether or not it turns out
    # valid: a claim inside it (its sub) could be forged to spend another user's budget.
    return "token:" + hashlib.sha256(_bearer_token().encode()).hexdigest()[:32]


def register_limits(app: Flask) -> None:
    trusted_proxies = int(app.config["TRUSTED_PROXIES"])
    if trusted_proxies:
        # Behind a proxy every request comes from it: take the client from X-Forwarded-For,
        # trusting only as many hops as there are proxies of ours.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies)  # type: ignore[method-assign]
    limits: list[str | Callable[[], str] | ApplicationLimit] = []
    if per_address := app.config["RATE_LIMIT_PER_ADDRESS"]:
        limits.append(
            ApplicationLimit(
                per_address,
                key_function=client_address,
                scope="address",
                error_message=f"Too many requests from this address: at most {per_address}.",
            )
        )
    if per_token := app.config["RATE_LIMIT_PER_TOKEN"]:
        limits.append(
            ApplicationLimit(
                per_token,
                key_function=token_key,
                scope="token",
                exempt_when=lambda: not _bearer_token(),
                error_message=f"Too many requests with this token: at most {per_token}.",
            )
        )
    if not limits:
        return
    redis_url = app.config["REDIS_URL"]
    if not redis_url and app.config["DATABASE_URL"]:
        log.warning(
            "rate limits are counted in each worker process's memory (set ACCOUNTS_REDIS_URL to "
            "count them once for all workers)"
        )
    limiter = Limiter(
        client_address,
        app=app,
        application_limits=limits,
        storage_uri=redis_url or "memory://",
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {},
        strategy="sliding-window-counter",
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="accounts-service",
    )
    limiter.request_filter(lambda: request.endpoint in UNLIMITED_ENDPOINTS)
    app.register_error_handler(RateLimitExceeded, _too_many_requests)


def _too_many_requests(error: RateLimitExceeded) -> Response:
    # A sliding window frees up gradually; its length is a bound the client can rely on.
    wait = error.limit.limit.get_expiry()
    return problem_response_of(
        Problem(
            429,
            "rate-limited",
            "Too many requests",
            str(error.description),
            {"Retry-After": str(wait)},
        )
    )
