"""The busiest requests answered in front of Flask, at the least cost.

A GET of a route that declares a front door (app/entrypoints/http/accounts.py: a user's account
list, with any filter, and summary) is answered here, from the WSGI environ, without Flask's
request context, URL matching, hooks or response object: from the response cache, or on a miss
through the very function the Flask view uses, which the route's module names in its door. The
same status, body and headers, the same request id, log line and metrics, at a fraction of the
CPU (bench/README.md, "Speed").

Anything else goes to Flask untouched: another route or method, a query with anything but valid
filters, a cross-origin request (CORS is Flask-CORS's), a token this path cannot accept on its own
(missing, invalid, expired, or for another user: Flask answers 401 or 403), an unknown user or a
store that fails (Flask's view answers the 404 or 503 from what was found here, without asking
the store again), anything unexpected (Flask meets it again, answers and logs it). So every
answer given here is the one Flask would give, and everything Flask would refuse it still refuses.

Rate limits are counted here as Flask would count them (app/entrypoints/http/limits.py), once: a
request over its budget goes on to Flask, which answers the 429.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask

from app.adapters.logs import StandardStream
from app.adapters.metrics import ACCOUNTS_SERVED, LATENCY, REQUESTS
from app.adapters.tokens import TokenVerifier
from app.domain.accounts import ID_PATTERN
from app.domain.errors import DomainError
from app.entrypoints.http.context import components_of
from app.entrypoints.http.http import REFUSED_IN_FRONT
from app.entrypoints.http.limits import RateLimits, bearer_token
from app.entrypoints.http.request_log import (
    REQUEST_ID_HEADER,
    new_request_id,
    request_line,
    requests_log,
    sane_request_id,
)
from app.entrypoints.http.security import DEFAULT_HEADERS, MAX_QUERY_BYTES
from app.services.cache import CachedBody, ResponseCache
from app.services.repositories import AccountRepository

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True)
class FrontDoor:
    """A GET route answered here too. `query` reads its query string (None: Flask must judge it),
    then `entry(store, cache, user_id, what the query asked)` is the cached body Flask's view
    would send; it raises what the store refuses."""

    route: str
    query: Callable[[str], Any]
    entry: Callable[[AccountRepository, ResponseCache, str, Any], CachedBody]
    #: Whether the body's accounts count toward the accounts-served metric.
    lists_accounts: bool = False


def _pattern(route: str) -> re.Pattern[str]:
    """The paths a route template matches, its one id captured."""
    return re.compile(re.sub(r"<id:\w+>", f"({ID_PATTERN})", route))


_STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match holds this strong tag (compared weakly, as RFC 9110 says for GET), or `*`;
    unquoted too, as werkzeug reads it for Flask's answer."""
    accepted = {"*", f'"{etag}"', f'W/"{etag}"', etag, f"W/{etag}"}
    return any(candidate.strip() in accepted for candidate in header.split(","))


class CachedReads:
    """WSGI middleware: lists and summaries answered here, everything else by Flask (see the
    module)."""

    def __init__(
        self,
        flask_app: Flask,
        log_stream: StandardStream,
        limits: RateLimits,
        doors: Iterable[FrontDoor],
    ) -> None:
        self._flask_app = flask_app
        self._app: WSGIApplication = flask_app.wsgi_app
        self._log = log_stream
        self._limits = limits
        self._doors = [(_pattern(door.route), door) for door in doors]
        # Each route's metric children, looked up once: labels() costs a lock and a dict each.
        self._requests = {
            door.route: {
                status: REQUESTS.labels("GET", door.route, str(status)) for status in (200, 304)
            }
            for _, door in self._doors
        }
        self._latency = {route: LATENCY.labels("GET", route) for route in self._requests}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        found = self._read(environ)
        if found is None:
            return self._app(environ, start_response)
        door, entry = found
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        current = incoming if sane_request_id(incoming) else new_request_id()
        etag = ("ETag", f'"{entry.etag}"')
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        # The headers, and their order, that Flask's answer has (tests/unit/test_cached_reads.py).
        if if_none_match is not None and _etag_matches(if_none_match, entry.etag):
            status, body, length = 304, b"", None
            headers = [etag]
        else:
            status, body, length = 200, entry.body, len(entry.body)
            headers = [("Content-Type", "application/json"), ("Content-Length", str(length)), etag]
        headers += DEFAULT_HEADERS
        headers.append((REQUEST_ID_HEADER, current))
        start_response(_STATUS_LINES[status], headers)
        self._observe(door, status, entry, started, current, length)
        return [body]

    def _read(self, environ: WSGIEnvironment) -> tuple[FrontDoor, CachedBody] | None:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_ORIGIN" in environ:
            return None
        path = environ.get("PATH_INFO", "")
        found = next(
            (
                (matched, door)
                for pattern, door in self._doors
                if (matched := pattern.fullmatch(path))
            ),
            None,
        )
        if found is None:
            return None
        matched, door = found
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_BYTES or (asked := door.query(query)) is None:
            return None
        if self._limits and self._limits.counted(environ):
            return None
        user_id = matched.group(1)
        # Read at every request, as Flask's views do, so that tests may swap them.
        parts = components_of(self._flask_app)
        if not self._may_read(environ, user_id, parts.verifier):
            return None
        parts.start_background()
        try:
            return door, door.entry(parts.read_repository, parts.cache, user_id, asked)
        except DomainError as refused:
            # An unknown user, or a store that failed: Flask's view answers it (404, 503)
            # rather than asking the store again.
            environ[REFUSED_IN_FRONT] = (user_id, refused)
            return None
        except Exception:  # Flask meets it again, and answers and logs it once
            return None

    @staticmethod
    def _may_read(environ: WSGIEnvironment, user_id: str, verifier: TokenVerifier | None) -> bool:
        if verifier is None:
            return True
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if not token:
            return False
        principal = verifier.cached_principal(token)
        return principal is not None and principal.may_act_for(user_id)

    def _observe(
        self,
        door: FrontDoor,
        status: int,
        entry: CachedBody,
        started: float,
        current: str,
        length: int | None,
    ) -> None:
        elapsed = time.perf_counter() - started
        self._requests[door.route][status].inc()
        self._latency[door.route].observe(elapsed)
        if door.lists_accounts:
            ACCOUNTS_SERVED.inc(entry.accounts)
        if requests_log.isEnabledFor(logging.INFO):
            self._log.write_line(request_line(current, "GET", door.route, status, elapsed, length))
