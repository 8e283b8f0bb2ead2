"""The HTTP layer: routes, the `id` URL converter, and problem+json errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask import Flask
from werkzeug.routing import BaseConverter

from app.api import accounts, docs, fixture, health, users
from app.api.auth import register_auth
from app.api.limits import register_limits
from app.api.metrics import register_metrics
from app.api.openapi import register_openapi
from app.api.problems import register_problem_handlers
from app.api.request_log import register_request_log
from app.api.security import register_security
from app.cache import build_cache
from app.domain import ID_PATTERN, Account
from app.repositories.base import AccountRepository
from app.repositories.timed import timed_repository
from app.tokens import TokenVerifier

__all__ = ["register_api"]


class IdConverter(BaseConverter):
    """Ids outside the allowed alphabet never reach a view: they are simply not found."""

    regex = ID_PATTERN


def register_api(
    app: Flask,
    repository: AccountRepository,
    read_repository: AccountRepository,
    seed: Mapping[str, Sequence[Account]],
    verifier: TokenVerifier | None,
) -> None:
    timed = timed_repository(repository)
    app.extensions[accounts.REPOSITORY_KEY] = timed
    app.extensions[accounts.READ_REPOSITORY_KEY] = (
        timed if read_repository is repository else timed_repository(read_repository)
    )
    app.extensions[accounts.CACHE_KEY] = build_cache(app.config)
    app.url_map.converters["id"] = IdConverter
    # Werkzeug would answer `/users//accounts` with an HTML redirect to `/users/accounts`,
    # which is another route (user "accounts"); an empty id is simply not found.
    app.url_map.merge_slashes = False
    register_request_log(app)
    register_problem_handlers(app)
    register_limits(app)  # before authentication, so that floods of bad tokens are counted too
    register_security(app)
    register_auth(app, verifier)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(users.blueprint)
    if app.config["FIXTURE_MODE"]:
        app.extensions[fixture.SEED_KEY] = seed
        app.register_blueprint(fixture.blueprint)
    register_openapi(app)
    app.register_blueprint(docs.blueprint)
    app.register_blueprint(health.blueprint)
    register_metrics(app)
