"""Unexpected exceptions to Sentry, only when SENTRY_DSN is set, and never any account data.

Events carry the request id (the one in the 500 answer and the log line), not the request's
body, headers' secrets or the stack's local variables, where balances and routing numbers live.
"""

from __future__ import annotations

import os
from typing import Any

import sentry_sdk
from flask import has_request_context, request
from sentry_sdk.integrations.flask import FlaskIntegration

from app.adapters.logs import request_id


def _scrub(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    # Only where it happened: the method and the route's template, never the path (it holds the
    # user's id), the query, the headers (tokens) or the body (balances, routing numbers).
    event["request"] = {}
    if has_request_context():
        event["request"]["method"] = request.method
        event["tags"] = {
            **event.get("tags", {}),
            "route": request.url_rule.rule if request.url_rule else "(unmatched)",
        }
    if current := request_id.get():
        event.setdefault("tags", {})["request_id"] = current
    event.pop("extra", None)
    return event


def init_error_tracking() -> None:
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return
    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration()],  # no personal data: sentry-sdk's default
        include_local_variables=False,
        max_request_body_size="never",
        before_send=_scrub,  # type: ignore[arg-type]
        # Errors only: no performance tracing, no release-health sessions, and no reports about
        # what was not sent.
        auto_session_tracking=False,
        send_client_reports=False,
    )
