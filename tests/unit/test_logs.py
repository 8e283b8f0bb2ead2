"""One JSON log line per request on standard output, and request ids that tie answers to logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from tests.conftest import SEED_FILE, serve_from
from tests.unit.test_problems import SECRET, BrokenRepository


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_one_json_line_per_request(client: FlaskClient, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    response = client.get("/users/user123/accounts?type=credit")
    [line] = log_lines(capsys)
    assert line["logger"] == "app.requests"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["route"] == "/users/<id:user_id>/accounts"  # the template: no user id in logs
    assert line["status"] == 200
    assert line["bytes"] == len(response.data)
    assert line["duration_ms"] > 0
    assert line["time"].endswith("+00:00")


def test_refused_and_unknown_requests_are_logged_too(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.get("/no/such/route")
    client.get("/users/user123/accounts?typ=credit")
    lines = log_lines(capsys)
    assert [(line["route"], line["status"]) for line in lines] == [
        (None, 404),
        ("/users/<id:user_id>/accounts", 400),
    ]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("req-42", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("two words", False),
        ("line\nbreak", False),
        ("", False),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_sane(
    client: FlaskClient, incoming: str, kept: bool
) -> None:
    # Straight into the environ: the test client would refuse a header with a line break.
    answered = client.get("/users/user123", environ_overrides={"HTTP_X_REQUEST_ID": incoming})
    returned = answered.headers["X-Request-ID"]
    assert (returned == incoming) is kept
    assert 1 <= len(returned) <= 128


def test_an_unexpected_exception_is_logged_once_with_the_id_the_client_gets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app({"SEED_DATA": str(SEED_FILE)})
    serve_from(app, BrokenRepository({}))
    capsys.readouterr()
    response = app.test_client().get("/users/user123/accounts")
    assert response.status_code == 500
    request_id = response.json["requestId"] if response.json else None
    assert request_id == response.headers["X-Request-ID"]
    errors = [line for line in log_lines(capsys) if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == request_id
    assert "RuntimeError" in errors[0]["traceback"]
    assert SECRET not in response.get_data(as_text=True)
