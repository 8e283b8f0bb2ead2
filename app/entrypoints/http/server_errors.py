"""gunicorn's own answers, as problem+json like every other error of this service.

gunicorn answers a request it cannot parse (a bad request line, a bare LF, too many or too long
headers, a URI too long) itself, before the app sees it, with an HTML page. It writes that page
through `gunicorn.util.write_error`, its one seam for this, which `install` replaces.
"""

from __future__ import annotations

import socket
from typing import Any

from gunicorn import util

from app.adapters.exact_json import dumps_bytes
from app.entrypoints.http.problems import PROBLEM_MIMETYPE

# The request line or header it quotes is the client's own; enough of it to recognise.
_MAX_QUOTED = 200


def write_problem(sock: socket.socket, status: int, reason: str, message: str) -> None:
    body = dumps_bytes(
        {
            "type": "about:blank",
            "title": reason,
            "status": status,
            "detail": message[:_MAX_QUOTED] or reason,
        }
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_MIMETYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install(server: Any) -> None:
    """gunicorn's `on_starting` hook: before the workers are forked, so every one has it."""
    util.write_error = write_problem
