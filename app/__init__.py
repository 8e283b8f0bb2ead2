"""accounts-service: every account a user holds, in one list, over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app.api import register_api
from app.config import DefaultConfig
from app.json_provider import ExactJSONProvider
from app.repositories.memory import InMemoryAccountRepository
from app.seed import load_seed_file

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Raises app.seed.SeedDataError when the seed file cannot be used."""
    app = Flask(__name__)
    app.config.from_object(DefaultConfig)
    app.config.from_prefixed_env("ACCOUNTS")
    if config:
        app.config.update(config)
    app.json = ExactJSONProvider(app)

    seed = load_seed_file(Path(str(app.config["SEED_DATA"])))
    register_api(app, InMemoryAccountRepository(seed), seed)
    return app
