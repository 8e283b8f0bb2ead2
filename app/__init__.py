"""accounts-service: every account a user holds, in one list, over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.config import settings
from app.entrypoints.http import register_api
from app.entrypoints.http.error_tracking import init_error_tracking
from app.entrypoints.http.json_provider import ExactJSONProvider
from app.wiring import build_components

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Raises ConfigurationError, with a one-line reason, when it cannot start."""
    init_error_tracking()
    app = Flask(__name__)
    app.config.update(settings(config))
    app.json = ExactJSONProvider(app)
    register_api(app, build_components(app.config))
    return app
