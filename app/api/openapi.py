"""The OpenAPI 3.1 description, generated from the same marshmallow schemas the routes use.

apispec renders each per-type account schema. The polymorphic `Account` (a `oneOf` joined by a
discriminator on `type`) is written here, because apispec renders marshmallow-oneofschema as an
empty object (apispec issue #1012).
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app

from app.api.auth import auth_enabled
from app.domain import ID_PATTERN, AccountType
from app.exact_json import dumps_bytes
from app.schemas.accounts import ACCOUNT_SCHEMAS
from app.schemas.users import NewUserSchema

SPEC_KEY = "accounts.openapi"

blueprint = Blueprint("openapi", __name__)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return Response(current_app.extensions[SPEC_KEY], mimetype="application/json")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


_ETAG = {
    "ETag": {
        "description": "Strong validator of this representation.",
        "schema": {"type": "string"},
    }
}
_PROBLEMS = {
    400: "Malformed request: bad query parameter, or a body that is not JSON.",
    401: "No valid bearer token; see the WWW-Authenticate header.",
    403: "The token may not act for this user, or the route needs the admin scope.",
    404: "No such user or account (or route).",
    409: "The id is taken.",
    412: "If-Match no longer matches the account: read it again and retry.",
    413: "The body is too large.",
    415: "The body is not JSON.",
    429: "Too many requests from this address or with this token; see `Retry-After`.",
    422: "JSON, but not valid: `errors` names each bad field by its path.",
    503: "The database cannot be reached right now; retry after `Retry-After` seconds.",
}


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": _PROBLEMS[status],
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _responses(ok: dict[str, Any], *problems: int) -> dict[str, Any]:
    """`ok`, and the problems that any route reading or writing users' data can answer."""
    return {
        **ok,
        **{
            str(status): _problem(status) for status in sorted({*problems, 401, 403, 404, 429, 503})
        },
    }


def _id(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": what,
        "schema": {"type": "string", "pattern": f"^{ID_PATTERN}$"},
    }


_USER = _id("userId", "The user's id.")
_ACCOUNT = _id("accountId", "The account's id (unique per user).")
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Make the write conditional on this ETag (or `*`); without it the "
    "write is unconditional.",
}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag; 304 when it is still the current one.",
}
_NOT_MODIFIED = {"304": {"description": "Not modified since the ETag given.", "headers": _ETAG}}
_ACCOUNT_BODY = {"required": True, "content": {"application/json": {"schema": _ref("Account")}}}


def _paths(fixture_mode: bool) -> dict[str, dict[str, Any]]:
    account = _json(_ref("Account"), "The account.", headers=_ETAG)
    paths: dict[str, dict[str, Any]] = {
        "/users": {
            "post": {
                "summary": "Create a user without accounts; the id is generated when left out.",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("NewUser")}},
                },
                "responses": _responses(
                    {
                        "201": _json(
                            _ref("User"),
                            "Created.",
                            headers={**_ETAG, "Location": {"schema": {"type": "string"}}},
                        )
                    },
                    409,
                    413,
                    415,
                    422,
                    400,
                ),
            }
        },
        "/users/{userId}": {
            "parameters": [_USER],
            "get": {
                "summary": "A user and how many accounts they hold.",
                "parameters": [_IF_NONE_MATCH],
                "responses": _responses(
                    {"200": _json(_ref("User"), "The user.", headers=_ETAG), **_NOT_MODIFIED}, 400
                ),
            },
            "delete": {
                "summary": "Delete the user and all of their accounts.",
                "responses": _responses({"204": {"description": "Deleted."}}, 400),
            },
        },
        "/users/{userId}/accounts": {
            "parameters": [_USER],
            "get": {
                "summary": "Every account of the user, in the order they were added.",
                "description": "Answered from a cache of response bodies that any write to the "
                "user's accounts makes stale at once, in every process: the answer always "
                "reflects every write already acknowledged.",
                "parameters": [
                    {
                        "name": "type",
                        "in": "query",
                        "required": False,
                        "style": "form",
                        "explode": True,
                        "description": "Only accounts of these types (their union). Also accepted "
                        "comma-separated: `?type=credit,loan`.",
                        "schema": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(AccountType)},
                        },
                    },
                    _IF_NONE_MATCH,
                ],
                "responses": _responses(
                    {
                        "200": _json(_ref("UserAccounts"), "The accounts.", headers=_ETAG),
                        **_NOT_MODIFIED,
                    },
                    400,
                ),
            },
            "post": {
                "summary": "Add an account; `id` may be left out, and is then generated.",
                "requestBody": _ACCOUNT_BODY,
                "responses": _responses(
                    {
                        "201": _json(
                            _ref("Account"),
                            "Created.",
                            headers={**_ETAG, "Location": {"schema": {"type": "string"}}},
                        )
                    },
                    400,
                    409,
                    413,
                    415,
                    422,
                ),
            },
        },
        "/users/{userId}/accounts/{accountId}": {
            "parameters": [_USER, _ACCOUNT],
            "get": {
                "summary": "One account.",
                "parameters": [_IF_NONE_MATCH],
                "responses": _responses({"200": account, **_NOT_MODIFIED}, 400),
            },
            "put": {
                "summary": "Replace the whole account; its type may change. Does not create.",
                "parameters": [_IF_MATCH],
                "requestBody": _ACCOUNT_BODY,
                "responses": _responses({"200": account}, 400, 412, 413, 415, 422),
            },
            "patch": {
                "summary": "Merge into the account (JSON Merge Patch); its type stays.",
                "parameters": [_IF_MATCH],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/merge-patch+json": {"schema": {"type": "object"}},
                        "application/json": {"schema": {"type": "object"}},
                    },
                },
                "responses": _responses({"200": account}, 400, 412, 413, 415, 422),
            },
            "delete": {
                "summary": "Delete the account.",
                "parameters": [_IF_MATCH],
                "responses": _responses({"204": {"description": "Deleted."}}, 400, 412),
            },
        },
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This description.",
            "security": [],  # public, whether or not the rest needs a token
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1."), "429": _problem(429)},
        }
    }
    paths["/docs"] = {
        "get": {
            "summary": "This description, as a page to read and try (Swagger UI).",
            "security": [],
            "responses": {
                "200": {
                    "description": "HTML.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                "429": _problem(429),
            },
        }
    }
    paths["/healthz"] = {
        "get": {
            "summary": "Liveness: the process answers.",
            "security": [],
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"status": {"const": "alive"}}}, "Alive."
                ),
                "429": _problem(429),
            },
        }
    }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus metrics, summed over every worker process.",
            "security": [],
            "responses": {
                "200": {
                    "description": "Prometheus text format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "429": _problem(429),
            },
        }
    }
    paths["/readyz"] = {
        "get": {
            "summary": "Readiness: the database (and replica, when set) answer within a second. "
            "The 503 names what does not, in `checks`. Redis, when set, is reported in `checks` "
            "but never makes the service unready.",
            "security": [],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "status": {"const": "ready"},
                            "checks": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                    "Ready.",
                ),
                "429": _problem(429),
                "503": _problem(503),
            },
        }
    }
    if fixture_mode:
        paths["/export"] = {
            "get": {
                "summary": "Every user and account, in the seed-file format.",
                "responses": _responses(
                    {"200": _json(_ref("Seed"), "The whole store.", headers=_ETAG)}, 400
                ),
            }
        }
        paths["/reset"] = {
            "post": {
                "summary": "Replace everything with the body's seed data, or the start-up seed.",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("Seed")}},
                },
                "responses": _responses({"204": {"description": "Replaced."}}, 400, 413, 415, 422),
            }
        }
    return paths


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "allowedTypes": {"type": "array", "items": {"type": "string"}},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {
                        "field": {"type": "string", "description": "Path in the body."},
                        "parameter": {"type": "string", "description": "Query parameter."},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }


def build_openapi(app: Flask) -> bytes:
    spec = APISpec(
        title="accounts-service",
        version="0.1.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Every account a user holds, in one list."},
    )
    mapping = {}
    for account_type, schema in ACCOUNT_SCHEMAS.items():
        name = schema.__name__.removesuffix("Schema")
        spec.components.schema(name, schema=schema)
        generated = spec.components.schemas[name]
        # The marshmallow field is dump-only (the registry reads `type`), so apispec would call
        # it read-only; here it is the discriminator, sent and received, with one value.
        generated["properties"]["type"] = {"type": "string", "const": str(account_type)}
        generated["required"] = ["type", *generated.get("required", [])]
        mapping[str(account_type)] = f"#/components/schemas/{name}"
    spec.components.schema(
        "Account",
        {
            "oneOf": [{"$ref": target} for target in mapping.values()],
            "discriminator": {"propertyName": "type", "mapping": mapping},
        },
    )
    spec.components.schema(
        "UserAccounts",
        {
            "type": "object",
            "required": ["userId", "accounts"],
            "properties": {
                "userId": {"type": "string"},
                "accounts": {"type": "array", "items": _ref("Account")},
            },
            "additionalProperties": False,
        },
    )
    spec.components.schema(
        "User",
        {
            "type": "object",
            "required": ["userId", "accountCount"],
            "properties": {
                "userId": {"type": "string"},
                "accountCount": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
    )
    spec.components.schema("NewUser", schema=NewUserSchema)
    spec.components.schema(
        "Seed",
        {
            "type": "object",
            "description": "User ids, each with the list of that user's accounts.",
            "additionalProperties": {"type": "array", "items": _ref("Account")},
        },
    )
    spec.components.schema("Problem", _problem_schema())
    auth = auth_enabled(app)
    if auth:
        spec.components.security_scheme(
            "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        spec.options["security"] = [{"bearer": []}]
    # What this app, as configured, can never answer is not described.
    never = set() if auth else {"401", "403"}
    if not (app.config["RATE_LIMIT_PER_ADDRESS"] or app.config["RATE_LIMIT_PER_TOKEN"]):
        never.add("429")
    for path, operations in _paths(app.config["FIXTURE_MODE"]).items():
        parameters = operations.pop("parameters", [])
        for operation in operations.values():
            for status in never:
                operation["responses"].pop(status, None)
        spec.path(path=path, operations=operations, parameters=parameters)
    return dumps_bytes(spec.to_dict())


def register_openapi(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.extensions[SPEC_KEY] = build_openapi(app)
