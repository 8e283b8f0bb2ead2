"""accounts-service: every account a user holds, in one list, over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app.api import register_api
from app.api.error_tracking import init_error_tracking
from app.api.json_provider import ExactJSONProvider
from app.config import ConfigurationError, settings
from app.domain import StorageUnavailable
from app.repositories import build_repositories
from app.seed import load_seed_file
from app.tokens import token_verifier

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Raises ConfigurationError, with a one-line reason, when it cannot start."""
    init_error_tracking()
    app = Flask(__name__)
    app.config.update(settings(config))
    app.json = ExactJSONProvider(app)

    # Checked first: a missing key is a configuration error whatever state the database is in.
    verifier = token_verifier(app.config)
    seed_file = app.config["SEED_DATA"]
    seed = load_seed_file(Path(str(seed_file))) if seed_file else {}
    repository, read_repository = build_repositories(app.config)
    try:
        if repository.is_empty():
            repository.seed(seed)
    except StorageUnavailable as error:
        raise ConfigurationError(f"cannot seed the store: {error.__cause__}") from None
    register_api(app, repository, read_repository, seed, verifier)
    return app
