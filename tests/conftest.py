from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.entrypoints.http.context import COMPONENTS_KEY, components_of
from app.entrypoints.sandbox_beside import start_sandbox
from harness import REPO_ROOT

pytest_plugins = ["pytester", "tests.databases"]

SEED_FILE = REPO_ROOT / "seed_data.json"

WriteSeed = Callable[[Any], Path]

#: The files that take half a minute or more, slowest first, started before the rest: with the suite
#: spread over processes (pytest-xdist, a file to a process), one of them started last would
#: finish alone, long after the rest (measured with --durations=0).
SLOWEST_FIRST = (
    "test_walkthrough.py",
    "test_schemathesis.py",
    "test_fixture_mode.py",
    "test_repository_contract.py",
    "test_auth.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: each file's tests keep their order


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


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """The provider sandbox, started as its command: `accounts-service provider-sandbox`."""
    sandbox = start_sandbox()
    assert sandbox.url.startswith("http://127.0.0.1:"), sandbox.url
    try:
        yield sandbox.url
    finally:
        sandbox.stop()
