"""Text that no store can keep, or no answer can carry, is refused by name on every backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.api.context import components_of
from tests.conftest import SEED_FILE
from tests.databases import emptied
from tests.samples import valid_account

NUL, LONE_SURROGATE = "Chase\x00Freedom", "Chase \ud800"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlaskClient]:
    config: dict[str, Any] = {"SEED_DATA": str(SEED_FILE), "AUTH": "off"}
    if request.param == "sqlite":
        config["DATABASE_URL"] = emptied(f"sqlite:///{tmp_path / 'app.db'}")
    elif request.param == "postgresql":
        config["DATABASE_URL"] = emptied(request.getfixturevalue("postgres_url"))
    app = create_app(config)
    yield app.test_client()
    components_of(app).close()


def send(client: FlaskClient, method: str, url: str, body: Any) -> Any:
    # json.dumps writes "\u0000" and "\ud800" as escapes, as a client's encoder would.
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.open(url, method=method, data=data, content_type="application/json")


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("field", ["provider", "accountName"])
def test_bad_text_is_a_422_naming_the_field_and_nothing_is_stored(
    client: FlaskClient, bad: str, field: str
) -> None:
    before = client.get("/users/user123/accounts").data
    writes = [
        ("POST", "/users/user123/accounts", valid_account("credit", **{field: bad})),
        ("PUT", "/users/user123/accounts/acc1", valid_account("credit", id="acc1", **{field: bad})),
        ("PATCH", "/users/user123/accounts/acc1", {field: bad}),
    ]
    for method, url, body in writes:
        response = send(client, method, url, body)
        assert response.status_code == 422, (method, response.data)
        assert response.mimetype == "application/problem+json"
        assert [error["field"] for error in response.json["errors"]] == [field]
    assert client.get("/users/user123/accounts").data == before


def test_an_unknown_field_named_with_a_lone_surrogate_is_named_escaped(
    client: FlaskClient,
) -> None:
    response = send(client, "PATCH", "/users/user123/accounts/acc1", b'{"details": {"\\ud800": 1}}')
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "details.\\ud800", "detail": "Unknown field."}]


def test_good_text_from_any_script_is_kept(client: FlaskClient) -> None:
    name = "Caisse d'Épargne 🏦 銀行"
    created = send(
        client, "POST", "/users/user123/accounts", valid_account("savings", accountName=name)
    )
    assert created.status_code == 201
    assert json.loads(client.get("/users/user123/accounts/s1").data)["accountName"] == name
