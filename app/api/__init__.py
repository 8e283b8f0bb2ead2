"""The HTTP layer: routes, the `id` URL converter, and problem+json errors."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter

from app.api.accounts import REPOSITORY_KEY, blueprint
from app.api.problems import register_problem_handlers
from app.domain import ID_PATTERN
from app.repositories.base import AccountRepository

__all__ = ["register_api"]


class IdConverter(BaseConverter):
    """Ids outside the allowed alphabet never reach a view: they are simply not found."""

    regex = ID_PATTERN


def register_api(app: Flask, repository: AccountRepository) -> None:
    app.extensions[REPOSITORY_KEY] = repository
    app.url_map.converters["id"] = IdConverter
    register_problem_handlers(app)
    app.register_blueprint(blueprint)
