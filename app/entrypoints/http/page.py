"""The page at /: a user's accounts, net worth and linked banks, for a person to look at.

The page is files of its own (`app/web/`) that read the public API from the browser, with a
bearer token pasted into it or none where sign-in is off; there is no build step and nothing is
loaded from elsewhere, so its Content-Security-Policy allows only this service.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

from app.entrypoints.http.contract import Answer, contract

blueprint = Blueprint(
    "page",
    __name__,
    static_folder=Path(__file__).parents[2] / "web",
    static_url_path="/assets",
)

_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@blueprint.get("/")
@contract(
    "A page showing one user's accounts by type, net worth per currency and over time (a "
    "chart, also of each account's balance), and linked banks (with a refresh button), read "
    "through this API.",
    [Answer(200, "HTML.", {"type": "string"}, "text/html")],
)
def page() -> Response:
    response = blueprint.send_static_file("index.html")
    response.headers["Content-Security-Policy"] = _PAGE_CSP
    return response
