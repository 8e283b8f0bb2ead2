"""Every error leaves the service as application/problem+json (RFC 9457), built in this one place.

Domain errors are mapped to statuses here, so the layers below never speak HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app.adapters.exact_json import dumps_bytes
from app.adapters.logs import request_id
from app.domain.errors import (
    AccountExists,
    AccountNotFound,
    AlreadyLinked,
    BalanceNotFound,
    ConnectionDisconnected,
    ConnectionNotFound,
    DomainError,
    InvalidData,
    LinkRefused,
    NotMergeable,
    ProviderOwned,
    ProviderUnavailable,
    QueueUnavailable,
    StorageUnavailable,
    SyncJobNotFound,
    TooManyAccounts,
    TypeChangeNeedsPut,
    UserExists,
    UserNotFound,
    VersionConflict,
)
from app.schemas.problems import ProblemSchema

PROBLEM_MIMETYPE = "application/problem+json"
# Tag URIs (RFC 4151) name our problem types without pretending there is a page to fetch.
PROBLEM_TYPE_PREFIX = "tag:accounts-service,2026:problems/"


class Problem(Exception):
    """Raised by views for a request they refuse; rendered by the handler below.

    `extensions` are the members of ProblemSchema beyond the standard four, by attribute name.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})
        self.body = {
            "type": PROBLEM_TYPE_PREFIX + slug,
            "title": title,
            "status": status,
            "detail": detail,
            **extensions,
        }


_DOMAIN_PROBLEMS: dict[type[DomainError], tuple[int, str, str]] = {
    UserNotFound: (404, "user-not-found", "User not found"),
    AccountNotFound: (404, "account-not-found", "Account not found"),
    BalanceNotFound: (404, "balance-not-found", "Balance not found"),
    UserExists: (409, "user-exists", "User exists"),
    AccountExists: (409, "account-exists", "Account exists"),
    VersionConflict: (412, "precondition-failed", "Precondition failed"),
    InvalidData: (422, "invalid-body", "Invalid body"),
    TypeChangeNeedsPut: (422, "type-change-needs-put", "Type change needs PUT"),
    ProviderOwned: (409, "provider-owned", "Set by the provider"),
    StorageUnavailable: (503, "storage-unavailable", "Service unavailable"),
    ConnectionNotFound: (404, "connection-not-found", "Connection not found"),
    SyncJobNotFound: (404, "sync-job-not-found", "Sync job not found"),
    ConnectionDisconnected: (409, "connection-disconnected", "Connection disconnected"),
    AlreadyLinked: (409, "already-linked", "Already linked"),
    NotMergeable: (409, "not-mergeable", "Not mergeable"),
    LinkRefused: (422, "link-refused", "Link refused"),
    ProviderUnavailable: (503, "provider-unavailable", "Provider unavailable"),
    QueueUnavailable: (503, "queue-unavailable", "Queue unavailable"),
    TooManyAccounts: (409, "too-many-accounts", "Too many accounts"),
}

#: Seconds a client is asked to wait after a 503, unless the error knows better.
RETRY_AFTER_SECONDS = 1
#: The queue's broker takes longer to come back than a busy database.
QUEUE_RETRY_AFTER_SECONDS = 5


_problem_schema = ProblemSchema()


def problem_response(status: int, body: dict[str, Any]) -> Response:
    return Response(
        dumps_bytes(_problem_schema.dump(body)), status=status, mimetype=PROBLEM_MIMETYPE
    )


def problem_response_of(problem: Problem) -> Response:
    response = problem_response(problem.status, problem.body)
    response.headers.update(problem.headers)
    return response


def _from_domain_error(error: DomainError) -> Response:
    status, slug, title = _DOMAIN_PROBLEMS[type(error)]
    headers = {"Retry-After": str(_retry_after(error))} if status == 503 else {}
    extensions: dict[str, Any] = {}
    if isinstance(error, InvalidData):
        extensions["errors"] = [
            {"field": field, "detail": detail} for field, detail in error.errors
        ]
    elif isinstance(error, (LinkRefused, ProviderUnavailable)):
        extensions["provider_code"] = error.code
    elif isinstance(error, AlreadyLinked):
        extensions["connection_id"] = error.connection_id
    elif isinstance(error, ProviderOwned):
        extensions["errors"] = [
            {"field": field, "detail": "Set by the provider's syncs."} for field in error.fields
        ]
    return problem_response_of(Problem(status, slug, title, str(error), headers, **extensions))


def _retry_after(error: DomainError) -> int:
    if isinstance(error, QueueUnavailable):
        return QUEUE_RETRY_AFTER_SECONDS
    if isinstance(error, ProviderUnavailable) and error.retry_after is not None:
        return max(1, math.ceil(error.retry_after))
    return RETRY_AFTER_SECONDS


def _from_http_exception(error: HTTPException) -> Response:
    # Werkzeug's own errors (unknown route, 405, and the 500 that Flask raises, after logging it,
    # for any unhandled exception) keep their status and their headers, such as Allow on a 405.
    # Their descriptions are fixed texts, so nothing internal reaches the client.
    status = error.code or 500
    body = {
        "type": "about:blank",
        "title": error.name,
        "status": status,
        "detail": error.description,
    }
    if status == 500:
        # The traceback was logged with this id: it is what the client quotes to the operator.
        body["request_id"] = request_id.get()
    response = problem_response(status, body)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, problem_response_of)
    app.register_error_handler(DomainError, _from_domain_error)
    app.register_error_handler(HTTPException, _from_http_exception)
