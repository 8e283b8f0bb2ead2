"""accounts-service: every account a user holds, in one list, over HTTP. `create_app` is the
application factory, which the HTTP entry point holds (app/entrypoints/http/__init__.py)."""

from app.entrypoints.http import create_app

__all__ = ["create_app"]
