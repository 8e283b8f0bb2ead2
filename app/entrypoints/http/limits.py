"""Rate limits: one budget per client address, and one per bearer token, across all routes.

Budgets are parsed by the `limits` library and counted in sliding windows. With ACCOUNTS_REDIS_URL
(one Redis, or a Redis Cluster) every worker process and machine shares one count, each process
counting on its own and exchanging its counts with Redis every RATE_LIMIT_SHARE_SECONDS, so that a
request costs no round trip (app/adapters/shared_counts.py: a budget may be passed by what the
other processes admit in one such interval). Without Redis, each process counts in its own memory
(with `limits`' memory storage), which is exact for the one-process in-memory store. If Redis
stops answering, counting goes on in memory rather than failing requests, and returns to Redis
once it answers.

The check is one function of the client's address and bearer token, not a Flask hook of a
library's own, so that the cached reads answered in front of Flask
(app/entrypoints/http/cached_reads.py) are counted exactly like every other request: whichever path
counts a request first leaves the outcome in its WSGI environ, and it is never counted twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from app.adapters.pause import Pause
from app.adapters.shared_counts import SharedCounts
from app.entrypoints.http.problems import Problem

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger(__name__)

#: Never limited: a burst of traffic must not make liveness and readiness probes or metric
#: scrapes fail, or the orchestrator would restart or unlist a service that is merely busy.
UNLIMITED_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.metrics"})
#: Where a request's outcome is left once counted: None, or the 429 to answer.
_COUNTED = "accounts_service.rate_limit"
_NAMESPACE = "accounts-service"


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer …` header; "" for none."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class _Budget:
    limit: RateLimitItem
    scope: str
    #: The identity counted, from (client address, bearer token); None when it does not apply.
    identity: Callable[[str, str], str | None]
    refusal: str


def _token_identity(_: str, token: str) -> str | None:
    # The token itself is the credential, so it is what is counted, whether or not it turns out
    # valid: a claim inside it (its sub) could be forged to spend another user's budget.
    return hashlib.sha256(token.encode()).hexdigest()[:32] if token else None


class RateLimits:
    """The configured budgets and where they are counted."""

    def __init__(
        self,
        per_address: str,
        per_token: str,
        redis_url: str | None,
        share_seconds: float = 0.1,
    ) -> None:
        self._budgets: list[_Budget] = []
        if per_address:
            self._budgets.append(
                _Budget(
                    parse(per_address),
                    "address",
                    lambda address, _: address,
                    f"Too many requests from this address: at most {per_address}.",
                )
            )
        if per_token:
            self._budgets.append(
                _Budget(
                    parse(per_token),
                    "token",
                    _token_identity,
                    f"Too many requests with this token: at most {per_token}.",
                )
            )
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._pause = Pause("rate limits", "counting in memory")
        self.shared = (
            SharedCounts(redis_url, share_seconds, self._pause) if redis_url is not None else None
        )

    def __bool__(self) -> bool:
        return bool(self._budgets)

    def refusal(self, address: str, token: str) -> Problem | None:
        """Counts one request; the 429 to answer when it is over a budget."""
        for budget in self._budgets:
            identity = budget.identity(address, token)
            if identity is None:
                continue
            if not self._hit(budget, identity):
                # A sliding window frees up gradually; its length is a bound the client can
                # rely on.
                wait = budget.limit.get_expiry()
                return Problem(
                    429,
                    "rate-limited",
                    "Too many requests",
                    budget.refusal,
                    {"Retry-After": str(wait)},
                )
        return None

    def counted(self, environ: WSGIEnvironment) -> Problem | None:
        """`refusal` for the request of `environ`, counted once however often asked."""
        if _COUNTED not in environ:
            address = environ.get("REMOTE_ADDR") or "unknown"
            token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
            environ[_COUNTED] = self.refusal(address, token)
        outcome: Problem | None = environ[_COUNTED]
        return outcome

    def _hit(self, budget: _Budget, identity: str) -> bool:
        if self.shared is not None and not self._pause.paused():
            limit = budget.limit
            key = f"{budget.scope}:{identity}"
            return self.shared.hit(key, limit.amount, limit.get_expiry())
        return self._memory.hit(budget.limit, _NAMESPACE, budget.scope, identity)


def register_limits(app: Flask) -> RateLimits:
    """Counts every request to a route but UNLIMITED_ENDPOINTS; returns the budgets."""
    limits = RateLimits(
        app.config["RATE_LIMIT_PER_ADDRESS"],
        app.config["RATE_LIMIT_PER_TOKEN"],
        app.config["REDIS_URL"] or None,
        float(app.config["RATE_LIMIT_SHARE_SECONDS"]),
    )
    app.extensions["accounts-service rate limits"] = limits
    if not limits:
        return limits
    if not app.config["REDIS_URL"] and app.config["DATABASE_URL"]:
        log.warning(
            "rate limits are counted in each worker process's memory (set ACCOUNTS_REDIS_URL to "
            "count them once for all workers)"
        )

    def count() -> None:
        # No route (a 404 or 405) costs nothing to answer, and is not counted.
        if request.endpoint is None or request.endpoint in UNLIMITED_ENDPOINTS:
            return
        refused = limits.counted(request.environ)
        if refused is not None:
            raise refused

    app.before_request(count)
    return limits


def trust_proxies(app: Flask) -> None:
    """Behind proxies of ours every request comes from them: the client is taken from
    X-Forwarded-For, trusting only as many hops as there are such proxies. Outermost, so that
    every layer sees the client's address."""
    if trusted := int(app.config["TRUSTED_PROXIES"]):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted)  # type: ignore[method-assign]
