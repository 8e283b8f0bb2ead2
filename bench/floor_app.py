"""The least a WSGI app can do: gunicorn's own cost per request, as a floor for ours.

.venv/bin/gunicorn --chdir bench -b 127.0.0.1:8124 -k gthread --threads 1 floor_app:app
wrk -t2 -c32 -d5s http://127.0.0.1:8124/
"""

from collections.abc import Callable, Iterable
from typing import Any

# About the size of user123's list.
BODY = b'{"userId":"user123","accounts":[]}' * 17


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]
