"""What every response carries for safety, and what every request must not exceed."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS

from app.entrypoints.http.http import invalid_query

# Below gunicorn's own limit on the request line (4094 bytes), so that a long query gets this
# service's JSON 400 rather than gunicorn's HTML one.
MAX_QUERY_BYTES = 2048

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # An API answers with data, never with a page to render, frame or load anything from.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}


def _refuse_long_queries() -> None:
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise invalid_query(
            f"The query string is longer than {MAX_QUERY_BYTES} bytes.",
            [],
        )


DEFAULT_HEADERS = [
    *SECURITY_HEADERS.items(),
    # Account data may be kept by the client's own cache only, and checked (ETag) before reuse.
    ("Cache-Control", "private, no-cache"),
]


def _secure(response: Response) -> Response:
    # One pass over the headers there are, rather than a setdefault (two passes) per default.
    present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 (Headers)
    response.headers.extend(
        [(name, value) for name, value in DEFAULT_HEADERS if name.lower() not in present]
    )
    return response


def register_security(app: Flask) -> None:
    app.before_request(_refuse_long_queries)
    app.after_request(_secure)
    origins = app.config["CORS_ORIGINS"]
    if origins:
        CORS(
            app,
            origins=origins,
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
            expose_headers=["ETag", "Location", "Retry-After"],
        )
