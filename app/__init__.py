"""accounts-service: every account a user holds, in one list, over HTTP. `create_app` is the
application factory, which the HTTP entry point holds (app/entrypoints/http/__init__.py).

Imported on first use, so that `import app.…` alone (gunicorn's settings, which must set up
Prometheus's multiprocess directory before prometheus_client is imported) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.entrypoints.http import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.entrypoints.http import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
