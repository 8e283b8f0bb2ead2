from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.api.context import COMPONENTS_KEY, components_of

pytest_plugins = ["pytester", "tests.databases"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_FILE = REPO_ROOT / "seed_data.json"

WriteSeed = Callable[[Any], Path]


def serve_from(app: Flask, repository: Any) -> None:
    """Make `app` read and write through `repository` instead of its own store."""
    app.extensions[COMPONENTS_KEY] = dataclasses.replace(
        components_of(app), repository=repository, read_repository=repository
    )


@pytest.fixture
def app() -> Flask:
    return create_app({"TESTING": True, "SEED_DATA": str(SEED_FILE)})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fixture_client() -> FlaskClient:
    """A client of the app in fixture mode, which adds GET /export and POST /reset."""
    return create_app(
        {"TESTING": True, "SEED_DATA": str(SEED_FILE), "FIXTURE_MODE": True}
    ).test_client()


@pytest.fixture
def write_seed(tmp_path: Path) -> WriteSeed:
    """Write a seed file (a JSON value, or raw text when given a str) and return its path."""

    def write(content: Any) -> Path:
        path = tmp_path / "seed.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return write
