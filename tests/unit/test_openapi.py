"""The OpenAPI description: valid, complete (every route, no more), and true to the responses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app import create_app
from app.domain.accounts import AccountType
from tests.conftest import SEED_FILE
from tests.samples import VALID_ACCOUNTS

AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}


def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    loaded: dict[str, Any] = json.loads(response.data)
    return loaded


def routes(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every route Flask serves, `<id:user_id>` becoming `{userId}`."""

    def openapi_path(rule: str) -> str:
        def camel(match: re.Match[str]) -> str:
            head, *rest = match.group(1).split("_")
            return "{" + head + "".join(part.title() for part in rest) + "}"

        return re.sub(r"<(?:\w+:)?(\w+)>", camel, rule)

    return {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        # The pages' own files (Swagger UI's and the script that starts it, the money page's
        # script and style) are not API.
        if rule.endpoint not in {"static", "docs.static", "docs.start", "page.static"}
        for method in (rule.methods or set()) - AUTOMATIC_METHODS
    }


def described(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }


@pytest.mark.parametrize("fixture_mode", [False, True])
def test_the_document_is_valid_and_describes_exactly_the_routes(fixture_mode: bool) -> None:
    app = create_app({"SEED_DATA": str(SEED_FILE), "FIXTURE_MODE": fixture_mode})
    spec = document(app.test_client())
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert described(spec) == routes(app)
    assert (("/reset", "post") in described(spec)) is fixture_mode


def test_each_account_type_is_its_own_schema_joined_by_a_discriminator(client: FlaskClient) -> None:
    schemas = document(client)["components"]["schemas"]
    account = schemas["Account"]
    assert account["discriminator"]["propertyName"] == "type"
    mapping = account["discriminator"]["mapping"]
    assert set(mapping) == set(AccountType)
    assert sorted(branch["$ref"] for branch in account["oneOf"]) == sorted(mapping.values())
    for account_type, target in mapping.items():
        branch = schemas[target.rsplit("/", 1)[1]]
        assert branch["properties"]["type"] == {"type": "string", "const": account_type}
        assert "type" in branch["required"]
        assert branch["additionalProperties"] is False


def test_every_operation_describes_its_errors_as_problems(client: FlaskClient) -> None:
    for path, item in document(client)["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            errors = {status for status in operation["responses"] if status.startswith(("4", "5"))}
            # Public pages touch no user's data: only the rate limit can refuse them, and it
            # does not apply to probes and scrapes.
            probes = {"/healthz", "/readyz", "/metrics"}
            expected = (
                set()
                if path in probes
                else {"429"}
                if path in {"/openapi.json", "/docs", "/"}
                else {"404", "429", "503"}
            )
            assert expected <= errors, (path, method)
            for status in errors:
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)


def validator(spec: dict[str, Any], component: str) -> Draft202012Validator:
    return Draft202012Validator({**spec, "$ref": f"#/components/schemas/{component}"})


def test_responses_match_the_description(fixture_client: FlaskClient) -> None:
    spec = document(fixture_client)
    checks = [
        ("/users/user123/accounts", "UserAccounts"),
        ("/users/user789/accounts?type=savings,investment", "UserAccounts"),
        ("/users/user123/accounts/acc1", "Account"),
        ("/users/user123", "User"),
        ("/users/nobody/accounts", "Problem"),
        ("/users/user123/accounts?type=nope", "Problem"),
        ("/export", "Seed"),
    ]
    for url, component in checks:
        body = json.loads(fixture_client.get(url).data)
        validator(spec, component).validate(body)
    invalid = fixture_client.post("/users/user123/accounts", json={"type": "credit"})
    validator(spec, "Problem").validate(json.loads(invalid.data))


@pytest.mark.parametrize("account_type", list(AccountType))
def test_each_valid_account_matches_exactly_one_branch(
    client: FlaskClient, account_type: AccountType
) -> None:
    spec = document(client)
    sample = VALID_ACCOUNTS[account_type]
    validator(spec, "Account").validate(sample)
    matching = [
        ref
        for ref in spec["components"]["schemas"]["Account"]["oneOf"]
        if Draft202012Validator({**spec, **ref}).is_valid(sample)
    ]
    assert len(matching) == 1


def test_an_account_with_an_unknown_field_breaks_the_description(client: FlaskClient) -> None:
    spec = document(client)
    assert not validator(spec, "Account").is_valid({**VALID_ACCOUNTS["loan"], "nickName": "x"})


def test_with_authentication_the_description_says_so() -> None:
    from tests.unit.test_auth import auth_app

    spec = document(auth_app().test_client())
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/openapi.json"]["get"]["security"] == []
    responses = spec["paths"]["/users/{userId}/accounts"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)


def test_without_authentication_it_describes_no_401(client: FlaskClient) -> None:
    spec = document(client)
    assert "security" not in spec
    assert "401" not in spec["paths"]["/users/{userId}/accounts"]["get"]["responses"]


def test_429_is_described_only_when_rate_limits_are_on() -> None:
    limited = document(create_app({"SEED_DATA": str(SEED_FILE)}).test_client())
    assert "429" in limited["paths"]["/users/{userId}/accounts"]["get"]["responses"]
    unlimited = create_app(
        {"SEED_DATA": str(SEED_FILE), "RATE_LIMIT_PER_ADDRESS": "", "RATE_LIMIT_PER_TOKEN": ""}
    )
    responses = document(unlimited.test_client())["paths"]["/users/{userId}/accounts"]["get"]
    assert "429" not in responses["responses"]


def test_operations_are_named_and_tagged_and_each_names_its_token() -> None:
    from tests.unit.test_auth import auth_app

    spec = document(auth_app().test_client())
    operations = [op for item in spec["paths"].values() for op in item.values() if "tags" in op]
    names = [operation["operationId"] for operation in operations]
    assert len(names) == len(set(names))
    listed = spec["paths"]["/users/{userId}/accounts"]["get"]
    assert (listed["operationId"], listed["tags"]) == ("listAccounts", ["accounts"])
    assert listed["security"] == [{"bearer": []}]
    assert {tag["name"] for tag in spec["tags"]} == {tag for op in operations for tag in op["tags"]}


def test_the_headers_a_client_reads_are_described(client: FlaskClient) -> None:
    create = document(client)["paths"]["/users/{userId}/accounts"]["post"]["responses"]
    assert {"ETag", "Location", "Idempotent-Replayed"} <= set(create["201"]["headers"])
    assert "Retry-After" in create["409"]["headers"]
    assert "Retry-After" in create["503"]["headers"]


def test_what_a_client_sends_is_described_as_strictly_as_the_server_takes_it(
    client: FlaskClient,
) -> None:
    spec = document(client)
    checking = VALID_ACCOUNTS["checking"]
    unknown = {**checking, "details": {**checking["details"], "routingNumber": None}}
    # An answer may hold a null detail (a synced account's); nothing sent may.
    assert validator(spec, "Account").is_valid({**unknown, "connectionId": "conn-1"})
    assert not validator(spec, "AccountInput").is_valid(unknown)
    # PUT takes the URL's id; a seed file's accounts each have their own.
    without_id = {name: value for name, value in checking.items() if name != "id"}
    assert validator(spec, "AccountInput").is_valid(without_id)
    assert not validator(spec, "AccountReplacement").is_valid(checking)
    assert validator(spec, "SeedInput").is_valid({"alice": [checking]})
    assert not validator(spec, "SeedInput").is_valid({"alice": [without_id]})
    # A merge patch is typed: one type's fields, each optional.
    assert validator(spec, "AccountPatch").is_valid({"details": {"overdraftProtection": True}})
    assert not validator(spec, "AccountPatch").is_valid({"details": {"nope": 1}})
    # Currencies are ISO 4217's; money is a decimal within its digits.
    assert not validator(spec, "AccountInput").is_valid({**checking, "currency": "AAA"})
    balance = spec["components"]["schemas"]["CheckingAccountInput"]["properties"]["balance"]
    assert (balance["format"], balance["maximum"]) == ("decimal", 10**15 - 1)
