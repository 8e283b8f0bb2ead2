"""Bearer tokens and per-user isolation, over every route the app has."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from app import create_app
from app.adapters.tokens import mint_token
from app.config import ConfigurationError
from app.entrypoints.cli import main
from app.entrypoints.http.auth import ADMIN_ENDPOINTS, PUBLIC_ENDPOINTS
from tests.conftest import SEED_FILE
from tests.samples import valid_account

SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"
OWN, OTHER = "user123", "user456"


def auth_app(**config: Any) -> Flask:
    return create_app(
        {
            "SEED_DATA": str(SEED_FILE),
            "FIXTURE_MODE": True,
            "AUTH": "jwt",
            "JWT_SECRET": SECRET,
            **config,
        }
    )


def alg_none_token() -> str:
    return jwt.encode({"sub": OWN, "exp": int(time.time()) + 600}, "", algorithm="none")


TOKENS: dict[str, str | None] = {
    "own": mint_token(OWN, SECRET),
    "other": mint_token(OTHER, SECRET),
    "admin": mint_token("ops", SECRET, admin=True),
    "none": None,
    "forged": mint_token(OWN, "a-different-secret-of-the-same-sort-0123456789abcdef"),
    "expired": mint_token(OWN, SECRET, expires_in=-3600),
    "alg-none": alg_none_token(),
}

YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
BODIES: dict[str, Any] = {
    "accounts.create_account": valid_account("loan", id="new-one"),
    "accounts.replace_account": valid_account("credit", id="acc1"),
    "accounts.patch_account": {"balance": 1},
    "users.create_user": {"id": OWN},
    "users.patch_user": {"baseCurrency": "EUR"},
    "balances.record_valuation": {"date": YESTERDAY, "balance": 1},
    "merges.merge": {"accountId": "acc2"},
    "connections.repair_login": {"credentials": {"username": "user_good", "password": "pass_good"}},
    "fixture.reset": {},
}


def every_route(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, concrete URL) for every route, with ids of user123's data."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = re.sub(r"<id:user_id>", OWN, rule.rule)
        for name, value in [("account_id", "acc1"), ("connection_id", "conn1"), ("job_id", "job1")]:
            url = url.replace(f"<id:{name}>", value)
        url = url.replace("<day:day>", YESTERDAY)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


ROUTES = every_route(auth_app())
#: Routes on nobody's data in particular: any valid token may call them.
ANY_USERS = {"connections.list_providers"}


def test_only_descriptions_pages_and_probes_are_public() -> None:
    # A new route lands in the matrix below by itself; making one public takes a change here.
    assert {
        "openapi.openapi",
        "docs.reference",
        "docs.start",
        "docs.static",
        "page.page",  # holds no data: it reads the API with the token pasted into it
        "page.static",
        "health.healthz",
        "health.readyz",
        "metrics.metrics",
        "connections.webhook",  # signed by the provider instead
    } == PUBLIC_ENDPOINTS
    assert {endpoint for endpoint, _, _ in ROUTES} == {
        "accounts.list_accounts",
        "accounts.summary",
        "accounts.create_account",
        "accounts.get_account",
        "accounts.replace_account",
        "accounts.patch_account",
        "accounts.delete_account",
        "balances.balance_history",
        "balances.record_valuation",
        "balances.delete_valuation",
        "net_worth.net_worth",
        "merges.merge",
        "payments.payments",
        "users.list_users",
        "users.create_user",
        "users.get_user",
        "users.patch_user",
        "users.delete_user",
        "connections.list_providers",
        "fixture.export",
        "fixture.reset",
        "connections.link",
        "connections.list_connections",
        "connections.get_connection",
        "connections.delete_connection",
        "connections.refresh",
        "connections.repair_login",
        "connections.get_job",
    }


@pytest.mark.parametrize("token", sorted(TOKENS))
@pytest.mark.parametrize(("endpoint", "method", "url"), ROUTES, ids=lambda v: str(v))
def test_the_route_by_token_matrix(endpoint: str, method: str, url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {TOKENS[token]}"} if TOKENS[token] else {}
    response = (
        auth_app()
        .test_client()
        .open(url, method=method, json=BODIES.get(endpoint), headers=headers)
    )
    if token in {"none", "forged", "expired", "alg-none"}:
        assert response.status_code == 401, response.data
        assert response.mimetype == "application/problem+json"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="accounts-service"')
        assert ('error="invalid_token"' in challenge) is (token != "none")
    elif (token == "other" and endpoint not in ANY_USERS) or (
        token == "own" and endpoint in ADMIN_ENDPOINTS
    ):
        assert response.status_code == 403, response.data
        assert response.mimetype == "application/problem+json"
    else:
        # Let through: answered exactly as the same request is with sign-in off, and never a 5xx.
        unguarded = (
            auth_app(AUTH="off").test_client().open(url, method=method, json=BODIES.get(endpoint))
        )
        assert response.status_code == unguarded.status_code, response.data
        assert response.status_code < 500, response.data


def test_the_openapi_description_needs_no_token() -> None:
    assert auth_app().test_client().get("/openapi.json").status_code == 200


def test_an_unknown_route_is_a_404_with_or_without_a_token() -> None:
    assert auth_app().test_client().get("/nope").status_code == 404


def test_a_token_may_create_its_own_user_and_only_an_admin_others() -> None:
    client = auth_app().test_client()
    newbie = {"Authorization": f"Bearer {mint_token('newbie', SECRET)}"}
    assert client.post("/users", json={"id": "newbie"}, headers=newbie).status_code == 201
    assert client.post("/users", json={"id": "someone"}, headers=newbie).status_code == 403
    assert client.post("/users", headers=newbie).status_code == 403  # a generated id is not theirs
    admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
    assert client.post("/users", headers=admin).status_code == 201


def test_a_token_without_exp_or_sub_is_refused() -> None:
    client = auth_app().test_client()
    claim_sets: list[dict[str, Any]] = [
        {"sub": OWN},
        {"exp": int(time.time()) + 600},
        {"sub": 7, "exp": int(time.time()) + 600},
    ]
    for claims in claim_sets:
        token = jwt.encode(claims, SECRET, algorithm="HS256")
        response = client.get(
            f"/users/{OWN}/accounts", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, claims


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"])
def test_other_authorization_schemes_are_401(header: str) -> None:
    response = (
        auth_app().test_client().get(f"/users/{OWN}/accounts", headers={"Authorization": header})
    )
    assert response.status_code == 401


@pytest.fixture
def rsa_keys(tmp_path: Path) -> tuple[str, Path]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_path = tmp_path / "public.pem"
    public_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_pem, public_path


def test_rs256_tokens_are_checked_with_the_public_key(rsa_keys: tuple[str, Path]) -> None:
    private_pem, public_path = rsa_keys
    client = auth_app(JWT_SECRET=None, JWT_PUBLIC_KEY=str(public_path)).test_client()
    token = mint_token(OWN, private_pem, algorithm="RS256")
    ok = client.get(f"/users/{OWN}/accounts", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200

    # The classic confusion attack: HS256, "signed" with the public key as the HMAC secret.
    def segment(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = (
        f"{segment({'alg': 'HS256', 'typ': 'JWT'})}."
        f"{segment({'sub': OWN, 'exp': int(time.time()) + 600})}"
    )
    signature = hmac.new(public_path.read_bytes(), signing_input.encode(), hashlib.sha256)
    forged = f"{signing_input}.{base64.urlsafe_b64encode(signature.digest()).rstrip(b'=').decode()}"
    refused = client.get(f"/users/{OWN}/accounts", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401


def test_auth_is_on_by_default_with_a_database_and_needs_a_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    with pytest.raises(ConfigurationError, match="ACCOUNTS_JWT_SECRET"):
        create_app({"SEED_DATA": str(SEED_FILE), "DATABASE_URL": url})


def test_a_missing_public_key_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read it"):
        auth_app(JWT_SECRET=None, JWT_PUBLIC_KEY=str(tmp_path / "absent.pem"))


def test_an_unknown_auth_mode_stops_start_up() -> None:
    with pytest.raises(ConfigurationError, match="must be 'jwt' or 'off'"):
        auth_app(AUTH="maybe")


def test_the_in_memory_default_warns_that_auth_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        client = create_app({"SEED_DATA": str(SEED_FILE)}).test_client()
    assert "authentication is off" in caplog.text
    assert client.get(f"/users/{OTHER}/accounts").status_code == 200


def test_cli_mints_tokens_the_service_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNTS_JWT_SECRET", SECRET)
    minted = CliRunner().invoke(main, ["token", OWN])
    assert minted.exit_code == 0
    headers = {"Authorization": f"Bearer {minted.output.strip()}"}
    client = auth_app().test_client()
    assert client.get(f"/users/{OWN}/accounts", headers=headers).status_code == 200
    assert client.get(f"/users/{OTHER}/accounts", headers=headers).status_code == 403
    admin = CliRunner().invoke(main, ["token", "ops", "--admin"]).output.strip()
    assert jwt.decode(admin, SECRET, algorithms=["HS256"])["scope"] == "admin"


def test_cli_token_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCOUNTS_JWT_SECRET", raising=False)
    result = CliRunner().invoke(main, ["token", OWN])
    assert result.exit_code == 1
    assert "ACCOUNTS_JWT_SECRET" in result.output


def status_with(client: Any, claims: dict[str, Any]) -> int:
    token = jwt.encode({"sub": OWN, "exp": int(time.time()) + 600, **claims}, SECRET, "HS256")
    response = client.get(f"/users/{OWN}/accounts", headers={"Authorization": f"Bearer {token}"})
    return int(response.status_code)


def test_a_token_living_longer_than_allowed_is_refused() -> None:
    client = auth_app().test_client()
    century = int(time.time()) + 100 * 365 * 86400
    assert status_with(client, {"exp": century}) == 401
    assert status_with(client, {"exp": int(time.time()) + 86400 + 60}) == 401
    assert status_with(client, {"exp": int(time.time()) + 86400 - 60}) == 200
    shorter = auth_app(JWT_MAX_LIFETIME_SECONDS=300).test_client()
    assert status_with(shorter, {"exp": int(time.time()) + 600}) == 401
    assert status_with(shorter, {"exp": int(time.time()) + 200}) == 200


def test_issuer_and_audience_are_checked_when_set() -> None:
    client = auth_app(JWT_ISSUER="https://login.example", JWT_AUDIENCE="accounts").test_client()
    right = {"iss": "https://login.example", "aud": "accounts"}
    assert status_with(client, right) == 200
    assert status_with(client, {**right, "aud": ["other", "accounts"]}) == 200
    for wrong in [
        {},
        {"iss": "https://login.example"},
        {"aud": "accounts"},
        {**right, "iss": "https://evil.example"},
        {**right, "aud": "other"},
    ]:
        assert status_with(client, wrong) == 401, wrong
    # Unset, neither is required; a token meant for another audience is still refused.
    assert status_with(auth_app().test_client(), {}) == 200
    assert status_with(auth_app().test_client(), {"aud": "another-service"}) == 401


def test_cli_tokens_carry_the_configured_issuer_and_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCOUNTS_JWT_SECRET", SECRET)
    monkeypatch.setenv("ACCOUNTS_JWT_ISSUER", "https://login.example")
    monkeypatch.setenv("ACCOUNTS_JWT_AUDIENCE", "accounts")
    token = CliRunner().invoke(main, ["token", OWN]).output.strip()
    client = auth_app(JWT_ISSUER="https://login.example", JWT_AUDIENCE="accounts").test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/users/{OWN}/accounts", headers=headers).status_code == 200


# Anything JSON holds but a number (for a NumericDate) or a string (for `sub`, `iss`), with NUL
# and lone surrogates among the text.
ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\ud800"))
NOT_A_NUMBER = st.one_of(
    st.none(),
    st.booleans(),
    ODD_TEXT,
    st.sampled_from(["1765000000", "9e99", "NaN", ""]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NOT_A_STRING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(ODD_TEXT, max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
WRONGLY_TYPED = st.one_of(
    st.tuples(st.sampled_from(["exp", "iat", "nbf"]), NOT_A_NUMBER),
    st.tuples(st.sampled_from(["sub", "iss"]), NOT_A_STRING),
    # Refused whatever it names: no audience is configured (a null or empty one names none).
    st.tuples(
        st.just("aud"),
        st.one_of(
            st.just(True),
            st.integers(min_value=1),
            ODD_TEXT.filter(bool),
            st.lists(ODD_TEXT, min_size=1, max_size=2),
        ),
    ),
)


def signed_as_is(claims: dict[str, Any]) -> str:
    """An HS256 token of exactly these claims (PyJWT refuses to sign some of them)."""

    def part(data: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@settings(max_examples=80, deadline=None)
@given(route=st.sampled_from(ROUTES), wrong=WRONGLY_TYPED)
def test_a_signed_token_with_a_wrongly_typed_claim_is_a_401_on_every_route(
    route: tuple[str, str, str], wrong: tuple[str, Any]
) -> None:
    endpoint, method, url = route
    claim, value = wrong
    claims = {"sub": OWN, "exp": int(time.time()) + 600, claim: value}
    token = signed_as_is(claims)
    answer = AUTH_CLIENT.open(
        url, method=method, json=BODIES.get(endpoint), headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401, (claims, answer.get_data())
    assert answer.mimetype == "application/problem+json"


AUTH_CLIENT = auth_app().test_client()


def test_only_an_admin_lists_the_users() -> None:
    client = auth_app().test_client()
    for token, status in [("own", 403), ("admin", 200)]:
        headers = {"Authorization": f"Bearer {TOKENS[token]}"}
        assert client.get("/users?limit=2", headers=headers).status_code == status
