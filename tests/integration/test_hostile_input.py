"""Text that no store can keep, or no answer can carry, is refused by name on every backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.adapters.webhooks import SIGNATURE_HEADER, signature
from app.entrypoints.http.context import components_of
from tests.conftest import SEED_FILE
from tests.databases import emptied
from tests.samples import valid_account

NUL, LONE_SURROGATE = "Chase\x00Freedom", "Chase \ud800"
SECRET = "webhook-secret-for-tests"
GOOD = {"username": "user_good", "password": "pass_good"}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path: Path, sandbox_url: str
) -> Iterator[FlaskClient]:
    config: dict[str, Any] = {
        "SEED_DATA": str(SEED_FILE),
        "AUTH": "off",
        "RATE_LIMIT_PER_ADDRESS": "",
        "PROVIDER_SANDBOX_URL": sandbox_url,
        "TOKEN_KEY": Fernet.generate_key().decode(),
        "WEBHOOK_SECRET": SECRET,
    }
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


def link_with(client: FlaskClient, credentials: Any) -> Any:
    body = {"provider": "sandbox", "institutionId": "ins_platypus", "credentials": credentials}
    return send(client, "POST", "/users/user123/connections", body)


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_credentials_no_provider_can_take_are_a_422_and_nothing_is_linked(
    client: FlaskClient, bad: str
) -> None:
    for credentials in [{**GOOD, "password": bad}, {bad: "x", **GOOD}]:
        refused = link_with(client, credentials)
        assert refused.status_code == 422, refused.data
        assert all(error["field"].startswith("credentials") for error in refused.json["errors"])
    assert client.get("/users/user123/connections").get_json()["connections"] == []


def signed_webhook(client: FlaskClient, notice: dict[str, Any]) -> Any:
    body = json.dumps(notice).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(SECRET, int(time.time()), body),
    }
    return client.post("/webhooks/sandbox", data=body, headers=headers)


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_a_signed_webhook_naming_text_no_store_keeps_is_refused_by_name(
    client: FlaskClient, bad: str
) -> None:
    notice = {"webhook_type": "ITEM", "webhook_code": "DEFAULT_UPDATE", "item_id": bad}
    refused = signed_webhook(client, notice)
    assert refused.status_code == 422, refused.data
    assert [error["field"] for error in refused.json["errors"]] == ["item_id"]
    # Odd text where nothing is looked up by it is acknowledged and ignored.
    odd_code = {"webhook_type": bad, "webhook_code": bad, "item_id": "item-x"}
    assert signed_webhook(client, odd_code).json == {"action": "ignored"}


ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\ud800\udfff"))
ODD_VALUES = ODD_TEXT | st.none() | st.integers() | st.lists(ODD_TEXT, max_size=2)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    link=st.fixed_dictionaries(
        {"provider": ODD_VALUES, "institutionId": ODD_VALUES},
        optional={"credentials": st.dictionaries(ODD_TEXT, ODD_VALUES, max_size=3)},
    ),
    notice=st.fixed_dictionaries(
        {"webhook_type": ODD_VALUES, "webhook_code": ODD_VALUES, "item_id": ODD_VALUES},
        optional={"error": st.fixed_dictionaries({"error_code": ODD_VALUES}) | ODD_VALUES},
    ),
)
def test_no_link_or_webhook_body_makes_the_server_fail(
    client: FlaskClient, link: dict[str, Any], notice: dict[str, Any]
) -> None:
    for answer in [
        send(client, "POST", "/users/user123/connections", link),
        signed_webhook(client, notice),
    ]:
        assert answer.status_code < 500, answer.data
        assert answer.mimetype in ("application/json", "application/problem+json")
