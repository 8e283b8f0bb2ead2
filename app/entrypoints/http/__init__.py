"""The HTTP layer: the application factory, routes, the `id` URL converter, and problem+json
errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

from app.config import settings
from app.domain.accounts import ID_PATTERN
from app.entrypoints.http import (
    accounts,
    balances,
    connections,
    docs,
    fixture,
    health,
    merges,
    net_worth,
    page,
    payments,
    users,
)
from app.entrypoints.http.auth import PUBLIC_ENDPOINTS, register_auth
from app.entrypoints.http.cached_reads import CachedReads
from app.entrypoints.http.context import COMPONENTS_KEY
from app.entrypoints.http.contract import refuse_what_is_not_declared
from app.entrypoints.http.error_tracking import init_error_tracking
from app.entrypoints.http.json_provider import ExactJSONProvider
from app.entrypoints.http.limits import register_limits, trust_proxies
from app.entrypoints.http.metrics import register_metrics
from app.entrypoints.http.openapi import register_openapi
from app.entrypoints.http.problems import register_problem_handlers
from app.entrypoints.http.request_log import register_request_log
from app.entrypoints.http.security import register_security
from app.wiring import Components, build_components

__all__ = ["create_app", "register_api"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Raises ConfigurationError, with a one-line reason, when it cannot start."""
    init_error_tracking()
    app = Flask("app")  # the package's name, as Flask has always been told it
    app.config.update(settings(config))
    app.json = ExactJSONProvider(app)
    register_api(app, build_components(app.config))
    return app


class IdConverter(BaseConverter):
    """Ids outside the allowed alphabet never reach a view: they are simply not found."""

    regex = ID_PATTERN


class DayConverter(BaseConverter):
    """A day as ISO 8601 writes it (`2026-12-06`); any other path is not found."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            raise ValidationError from None

    def to_url(self, value: date) -> str:
        return value.isoformat()


def register_api(app: Flask, components: Components) -> None:
    app.extensions[COMPONENTS_KEY] = components
    # In the process that serves (gunicorn loads the app, then forks): see start_background.
    app.before_request(components.start_background)
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["day"] = DayConverter
    # Werkzeug would answer `/users//accounts` with an HTML redirect to `/users/accounts`,
    # which is another route (user "accounts"); an empty id is simply not found.
    app.url_map.merge_slashes = False
    log_stream = register_request_log(app)
    register_problem_handlers(app)
    limits = register_limits(app)  # before authentication: floods of bad tokens count too
    register_security(app)
    register_auth(app)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(users.blueprint)
    app.register_blueprint(balances.blueprint)
    app.register_blueprint(merges.blueprint)
    app.register_blueprint(net_worth.blueprint)
    app.register_blueprint(payments.blueprint)
    app.register_blueprint(connections.blueprint)
    if app.config["FIXTURE_MODE"]:
        app.register_blueprint(fixture.blueprint)
    app.register_blueprint(docs.blueprint)
    app.register_blueprint(page.blueprint)
    app.register_blueprint(health.blueprint)
    register_metrics(app)
    register_openapi(app)
    # After authentication: a caller without a token learns nothing about a route's parameters.
    refuse_what_is_not_declared(
        app,
        [
            endpoint
            for endpoint in app.view_functions
            if endpoint not in PUBLIC_ENDPOINTS and endpoint != "static"
        ],
    )
    app.wsgi_app = CachedReads(  # type: ignore[method-assign]
        app, log_stream, limits, accounts.FRONT_DOORS
    )
    trust_proxies(app)
