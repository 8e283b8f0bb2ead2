"""The OpenAPI 3.1 description, generated from the routes' contracts
(app/entrypoints/http/contract.py) and the marshmallow schemas they name.

Paths come from Flask's own URL map, so the document lists exactly the routes there are; a route
without a contract stops the app from starting. apispec renders the marshmallow schemas. Written
out here are only the shapes marshmallow cannot state: the polymorphic `Account` (a `oneOf` joined
by a discriminator on `type`, since apispec renders marshmallow-oneofschema as an empty object,
apispec issue #1012), the seed file's map of users, and a merge patch.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app
from marshmallow import Schema

from app.adapters.exact_json import dumps_bytes
from app.domain.accounts import ID_PATTERN
from app.entrypoints.http.auth import PUBLIC_ENDPOINTS, auth_enabled
from app.entrypoints.http.contract import Answer, Contract, SchemaRef, contract, contract_of
from app.entrypoints.http.idempotency import is_idempotent
from app.entrypoints.http.limits import UNLIMITED_ENDPOINTS
from app.schemas.accounts import ACCOUNT_SCHEMAS, AccountSchema
from app.schemas.problems import ProblemSchema

SPEC_KEY = "accounts.openapi"
#: Routes that serve a page's own files (Swagger UI's and the script that starts it, the money
#: page's script and style): not API.
NOT_API = frozenset({"static", "docs.static", "docs.start", "page.static"})

blueprint = Blueprint("openapi", __name__)


@blueprint.get("/openapi.json")
@contract("This description.", [Answer(200, "OpenAPI 3.1.", {"type": "object"})])
def openapi() -> Response:
    return Response(current_app.extensions[SPEC_KEY], mimetype="application/json")


_COMPONENTS = "#/components/schemas/"
_PROBLEMS = {
    400: "Malformed request: bad query parameter, or a body that is not JSON.",
    401: "No valid bearer token (see the WWW-Authenticate header); of a webhook, no valid "
    "signature, or one already used.",
    403: "The token may not act for this user, or the route needs the admin scope.",
    404: "No such user, account, connection or sync job (or route).",
    409: "The id is taken, the write would change what only the provider's syncs set, the "
    "connection was disconnected at the provider, the user holds the most accounts allowed, or "
    "a request with the same Idempotency-Key is still running.",
    412: "If-Match no longer matches the account: read it again and retry.",
    413: "The body is too large.",
    415: "The body is not JSON.",
    422: "JSON, but not valid: `errors` names each bad field by its path; the provider "
    "refused to link (`link-refused`, with its `providerCode`); or the Idempotency-Key was used "
    "with another request.",
    429: "Too many requests from this address or with this token; see `Retry-After`.",
    503: "The database, the sync queue or the provider cannot be reached right now; retry after "
    "`Retry-After` seconds.",
}
_PATH_PARAMETERS = {
    "user_id": "The user's id.",
    "account_id": "The account's id (unique per user).",
    "connection_id": "The connection's id (unique per user).",
    "job_id": "The sync job's id (unique per user).",
    "provider": "The provider sending the notice, e.g. `sandbox`.",
}
_ETAG = {"description": "Strong validator of this representation.", "schema": {"type": "string"}}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag; 304 when it is still the current one.",
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Makes a retry safe: the same key with the same request gets the first "
    "answer again (marked `Idempotent-Replayed: true`), with nothing done twice; with another "
    "request, a 422; while the first still runs, a 409. Kept 24 hours, per user.",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Make the write conditional on this ETag (or `*`); without it the "
    "write is unconditional.",
}
_HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "Seed": {
        "type": "object",
        "description": "User ids, each with the list of that user's accounts.",
        "additionalProperties": {
            "type": "array",
            "items": {"$ref": _COMPONENTS + "Account"},
        },
    },
    "AccountPatch": {
        "type": "object",
        "description": "A JSON Merge Patch (RFC 7396) of an account: the fields to change, "
        "`details` merged key by key; the result must be a valid account of the same type.",
    },
}


def _component_name(schema: type[Schema]) -> str:
    return schema.__name__.removesuffix("Schema")


def _ref(schema: SchemaRef) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    name = schema if isinstance(schema, str) else _component_name(schema)
    return {"$ref": _COMPONENTS + name}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """Flask's `/users/<id:user_id>` as OpenAPI's `/users/{userId}`, with its parameters."""
    names = re.findall(r"<(?:\w+:)?(\w+)>", rule)
    parameters = [
        {
            "name": _camel(name),
            "in": "path",
            "required": True,
            "description": _PATH_PARAMETERS[name],
            "schema": {"type": "string", "pattern": f"^{ID_PATTERN}$"},
        }
        for name in names
    ]
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule), parameters


def _answer(answer: Answer, etag: bool) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        described["content"] = {answer.media_type: {"schema": _ref(answer.schema)}}
    headers = {"ETag": _ETAG} if etag and answer.schema is not None else {}
    if answer.location:
        headers["Location"] = {"schema": {"type": "string"}}
    if headers:
        described["headers"] = headers
    return described


class _Describer:
    """Turns contracts into operations, for the app as it is configured: what it can never answer
    (a 401 without authentication, a 429 without rate limits) is not described."""

    def __init__(self, app: Flask) -> None:
        self.auth = auth_enabled(app)
        self.limited = bool(
            app.config["RATE_LIMIT_PER_ADDRESS"] or app.config["RATE_LIMIT_PER_TOKEN"]
        )

    def problems(self, declared: Contract, public: bool, limited: bool, writes: bool) -> list[int]:
        statuses = set(declared.errors)
        if self.limited and limited:
            statuses.add(429)
        if not public:
            # Every route on users' data: a bad query, an unknown user, a store that is down.
            statuses |= {400, 404, 503} | ({401, 403} if self.auth else set())
        if declared.body is not None or writes:
            # A write that takes no body refuses one as the others refuse a bad one.
            statuses |= {400, 413, 415, 422}
        if declared.conditional_write:
            statuses.add(412)
        return sorted(statuses)

    def operation(
        self, declared: Contract, endpoint: str, idempotent: bool = False, writes: bool = False
    ) -> dict[str, Any]:
        public = endpoint in PUBLIC_ENDPOINTS
        etag = not public
        responses = {str(answer.status): _answer(answer, etag) for answer in declared.answers}
        parameters: list[dict[str, Any]] = []
        if declared.query is not None:
            parameters.append({"in": "query", "schema": declared.query})
        if declared.conditional_read:
            parameters.append(_IF_NONE_MATCH)
            responses["304"] = {
                "description": "Not modified since the ETag given.",
                "headers": {"ETag": _ETAG},
            }
        if declared.conditional_write:
            parameters.append(_IF_MATCH)
        statuses = self.problems(declared, public, endpoint not in UNLIMITED_ENDPOINTS, writes)
        if idempotent:
            parameters.append(_IDEMPOTENCY_KEY)
            statuses = sorted({*statuses, 409, 422})
        for status in statuses:
            responses[str(status)] = {
                "description": _PROBLEMS[status],
                "content": {"application/problem+json": {"schema": _ref(ProblemSchema)}},
            }
        operation: dict[str, Any] = {"summary": declared.summary, "responses": responses}
        if declared.description:
            operation["description"] = declared.description
        if parameters:
            operation["parameters"] = parameters
        if declared.body is not None:
            operation["requestBody"] = {
                "required": declared.body.required,
                "content": {
                    media_type: {"schema": _ref(declared.body.schema)}
                    for media_type in declared.body.media_types
                },
            }
        if public:
            operation["security"] = []  # whether or not the rest needs a token
        return operation


def _one_of(mapping: dict[str, str]) -> dict[str, Any]:
    """Any of the per-type schemas in `mapping` (type -> component), picked by `type`."""
    targets = {account_type: _COMPONENTS + name for account_type, name in mapping.items()}
    return {
        "oneOf": [{"$ref": target} for target in targets.values()],
        "discriminator": {"propertyName": "type", "mapping": targets},
    }


def _schemas(spec: APISpec) -> None:
    answered, sent = {}, {}
    for account_type, schema in ACCOUNT_SCHEMAS.items():
        name = _component_name(schema)
        spec.components.schema(name, schema=schema)
        generated = spec.components.schemas[name]
        # The marshmallow field is dump-only (the registry reads `type`), so apispec would call
        # it read-only; here it is the discriminator, sent and received, with one value.
        generated["properties"]["type"] = {"type": "string", "const": str(account_type)}
        generated["required"] = ["type", *generated.get("required", [])]
        answered[str(account_type)] = name
        # What a client sends may leave `id` out: POST then generates one, PUT takes the URL's.
        sent[str(account_type)] = f"{name}Input"
        spec.components.schema(
            f"{name}Input",
            {**generated, "required": [field for field in generated["required"] if field != "id"]},
        )
    # Registered with its schema, so that fields nesting AccountSchema refer to it; apispec's
    # rendering of it (an object with no properties) is replaced by the oneOf.
    spec.components.schema("Account", schema=AccountSchema)
    spec.components.schemas["Account"] = _one_of(answered)
    spec.components.schema("AccountInput", _one_of(sent))
    spec.components.schema(_component_name(ProblemSchema), schema=ProblemSchema)
    for name, written in _HAND_WRITTEN.items():
        spec.components.schema(name, written)


def _named_schemas(app: Flask) -> list[type[Schema]]:
    """The marshmallow schemas that routes' contracts name, each once, in route order."""
    named: dict[type[Schema], None] = {}
    for rule in app.url_map.iter_rules():
        declared = contract_of(app.view_functions[rule.endpoint])
        if declared is None:
            continue
        for schema in [answer.schema for answer in declared.answers] + [
            declared.body.schema if declared.body else None
        ]:
            if isinstance(schema, type) and issubclass(schema, Schema):
                named[schema] = None
    return list(named)


def build_openapi(app: Flask) -> bytes:
    spec = APISpec(
        title="accounts-service",
        version="0.1.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Every account a user holds, in one list."},
    )
    _schemas(spec)
    for named in _named_schemas(app):
        if _component_name(named) not in spec.components.schemas:
            spec.components.schema(_component_name(named), schema=named)
    if auth_enabled(app):
        spec.components.security_scheme(
            "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        spec.options["security"] = [{"bearer": []}]
    describer = _Describer(app)
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    path_parameters: dict[str, list[dict[str, Any]]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            continue
        declared = contract_of(app.view_functions[rule.endpoint])
        if declared is None:
            raise LookupError(f"the route {rule.rule} ({rule.endpoint}) declares no contract")
        path, path_parameters[path] = _path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths[path][method.lower()] = describer.operation(
                declared,
                rule.endpoint,
                is_idempotent(app.view_functions[rule.endpoint]),
                writes=method != "GET",
            )
    for path, operations in paths.items():
        spec.path(path=path, operations=operations, parameters=path_parameters[path])
    return dumps_bytes(spec.to_dict())


def register_openapi(app: Flask) -> None:
    """After every other route: the document describes them all."""
    app.register_blueprint(blueprint)
    app.extensions[SPEC_KEY] = build_openapi(app)
