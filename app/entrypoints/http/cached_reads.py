"""The busiest requests answered in front of Flask, at the least cost.

A GET of a user's account list (with any filter) or summary is answered here, from the WSGI
environ, without Flask's request context, URL matching, hooks or response object: from the
response cache, or on a miss through the very function the Flask view uses
(app/entrypoints/http/accounts.py, `list_entry` and `summary_entry`). The same status, body and
headers, the same request id, log line and metrics, at a fraction of the CPU (bench/README.md,
"Speed").

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
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from flask import Flask

from app.adapters.logs import StandardStream
from app.adapters.metrics import ACCOUNTS_SERVED, LATENCY, REQUESTS
from app.adapters.tokens import TokenVerifier
from app.domain.accounts import ALL_SUBTYPES, ID_PATTERN, AccountFilter, AccountStatus, AccountType
from app.domain.errors import DomainError
from app.entrypoints.http.accounts import list_entry, summary_entry
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
from app.services.cache import CachedBody

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_LIST = re.compile(rf"/users/({ID_PATTERN})/accounts")
_SUMMARY = re.compile(rf"/users/({ID_PATTERN})/summary")
LIST_ROUTE = "/users/<id:user_id>/accounts"
SUMMARY_ROUTE = "/users/<id:user_id>/summary"

_FILTERS: dict[str, frozenset[str]] = {
    "type": frozenset(AccountType),
    "subtype": frozenset(ALL_SUBTYPES),
    "status": frozenset(AccountStatus),
}


def _filter(query: str) -> AccountFilter | None:
    """The filter a list's query string asks for; None for anything Flask must judge."""
    if not query:
        return AccountFilter()
    if len(query) > MAX_QUERY_BYTES:
        return None
    chosen: dict[str, set[str]] = {name: set() for name in _FILTERS}
    for name, value in parse_qsl(query, keep_blank_values=True):
        allowed = _FILTERS.get(name)
        if allowed is None:
            return None
        for part in value.split(","):
            if part not in allowed:
                return None
            chosen[name].add(part)
    return AccountFilter(
        types=frozenset(map(AccountType, chosen["type"])),
        subtypes=frozenset(chosen["subtype"]),
        statuses=frozenset(map(AccountStatus, chosen["status"])),
    )


_STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match holds this strong tag (compared weakly, as RFC 9110 says for GET), or `*`;
    unquoted too, as werkzeug reads it for Flask's answer."""
    accepted = {"*", f'"{etag}"', f'W/"{etag}"', etag, f"W/{etag}"}
    return any(candidate.strip() in accepted for candidate in header.split(","))


class CachedReads:
    """WSGI middleware: lists and summaries answered here, everything else by Flask (see the
    module)."""

    def __init__(self, flask_app: Flask, log_stream: StandardStream, limits: RateLimits) -> None:
        self._flask_app = flask_app
        self._app: WSGIApplication = flask_app.wsgi_app
        self._log = log_stream
        self._limits = limits
        # Each route's metric children, looked up once: labels() costs a lock and a dict each.
        self._requests = {
            route: {status: REQUESTS.labels("GET", route, str(status)) for status in (200, 304)}
            for route in (LIST_ROUTE, SUMMARY_ROUTE)
        }
        self._latency = {route: LATENCY.labels("GET", route) for route in self._requests}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        found = self._read(environ)
        if found is None:
            return self._app(environ, start_response)
        route, entry = found
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        current = incoming if sane_request_id(incoming) else new_request_id()
        etag = ("ETag", f'"{entry.etag}"')
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        # The headers, and their order, that Flask's answer has (tests/test_cached_reads.py).
        if if_none_match is not None and _etag_matches(if_none_match, entry.etag):
            status, body, length = 304, b"", None
            headers = [etag]
        else:
            status, body, length = 200, entry.body, len(entry.body)
            headers = [("Content-Type", "application/json"), ("Content-Length", str(length)), etag]
        headers += DEFAULT_HEADERS
        headers.append((REQUEST_ID_HEADER, current))
        start_response(_STATUS_LINES[status], headers)
        self._observe(route, status, entry, started, current, length)
        return [body]

    def _read(self, environ: WSGIEnvironment) -> tuple[str, CachedBody] | None:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_ORIGIN" in environ:
            return None
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        shown: AccountFilter | None = None
        if matched := _LIST.fullmatch(path):
            route, shown = LIST_ROUTE, _filter(query)
            if shown is None:
                return None
        elif (matched := _SUMMARY.fullmatch(path)) and not query:
            route = SUMMARY_ROUTE
        else:
            return None
        if self._limits and self._limits.counted(environ):
            return None
        user_id = matched.group(1)
        # Read at every request, as Flask's views do, so that tests may swap them.
        parts = components_of(self._flask_app)
        if not self._may_read(environ, user_id, parts.verifier):
            return None
        parts.start_background()
        store, cache = parts.read_repository, parts.cache
        try:
            if shown is None:
                return route, summary_entry(store, cache, user_id)
            return route, list_entry(store, cache, user_id, shown)
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
        route: str,
        status: int,
        entry: CachedBody,
        started: float,
        current: str,
        length: int | None,
    ) -> None:
        elapsed = time.perf_counter() - started
        self._requests[route][status].inc()
        self._latency[route].observe(elapsed)
        if route == LIST_ROUTE:
            ACCOUNTS_SERVED.inc(entry.accounts)
        if requests_log.isEnabledFor(logging.INFO):
            self._log.write_line(request_line(current, "GET", route, status, elapsed, length))
