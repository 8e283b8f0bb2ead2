"""The OpenAPI 3.1 description, generated from the routes' contracts
(app/entrypoints/http/contract.py) and the marshmallow schemas they name.

Paths come from Flask's own URL map, so the document lists exactly the routes there are; a route
without a contract stops the app from starting. apispec renders the marshmallow schemas; the
accounts' components, which marshmallow cannot state, are written out in openapi_components.py.
Each operation is named after its view (`operationId`) and tagged with its blueprint.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app
from marshmallow import Schema
from marshmallow.fields import Field

from app.adapters.exact_json import dumps_bytes
from app.domain.accounts import ID_PATTERN
from app.entrypoints.http.auth import PUBLIC_ENDPOINTS, auth_enabled
from app.entrypoints.http.context import components_of
from app.entrypoints.http.contract import Answer, Contract, SchemaRef, contract, contract_of
from app.entrypoints.http.idempotency import is_idempotent
from app.entrypoints.http.limits import UNLIMITED_ENDPOINTS
from app.entrypoints.http.openapi_components import (
    COMPONENTS,
    component_name,
    register_components,
)
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
    "day": "A day (ISO 8601, `2026-12-06`).",
}
#: Path parameters that are not ids.
_PATH_SCHEMAS = {"day": {"type": "string", "format": "date"}}
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
    # Printable ASCII, as the server checks it (app/entrypoints/http/idempotency.py).
    "schema": {"type": "string", "pattern": "^[ -~]{1,255}$"},
    "description": "1 to 255 printable ASCII characters. Makes a retry safe: the same key with "
    "the same request gets the first answer again (marked `Idempotent-Replayed: true`), with "
    "nothing done twice; with another request, a 422; while the first still runs, a 409. Kept "
    "24 hours, per user.",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Make the write conditional on this ETag (or `*`); without it the "
    "write is unconditional.",
}


_TAGS = {
    "accounts": "A user's accounts, their list and net worth.",
    "balances": "An account's balance over time, and past balances entered by hand.",
    "merges": "An account added by hand merged into the synced account it is.",
    "net_worth": "A user's net worth over time, in one currency.",
    "payments": "What is due soon across a user's cards and loans.",
    "users": "Users.",
    "connections": "Institutions linked through a provider, and their sync jobs.",
    "fixture": "Fixture mode: the whole state at once (other projects' tests).",
    "health": "Probes.",
    "metrics": "Prometheus.",
    "openapi": "This description.",
    "docs": "The reference, to read and try.",
    "page": "The page at `/`.",
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
_REPLAYED = {
    "description": "`true` when this is the first answer to the same Idempotency-Key, again.",
    "schema": {"type": "string", "const": "true"},
}
#: Statuses whose answer says when to try again (the 409: a request with the same
#: Idempotency-Key still runs).
_RETRYABLE = {409, 429, 503}


def _ref(schema: SchemaRef) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    name = schema if isinstance(schema, str) else component_name(schema)
    return {"$ref": COMPONENTS + name}


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
            "schema": _PATH_SCHEMAS.get(name, {"type": "string", "pattern": f"^{ID_PATTERN}$"}),
        }
        for name in names
    ]
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule), parameters


def _answer(answer: Answer, etag: bool, idempotent: bool) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        described["content"] = {answer.media_type: {"schema": _ref(answer.schema)}}
    headers = {"ETag": _ETAG} if etag and answer.schema is not None else {}
    if answer.location:
        headers["Location"] = {
            "description": "Where the resource is.",
            "schema": {"type": "string", "format": "uri-reference"},
        }
    if idempotent:
        headers["Idempotent-Replayed"] = _REPLAYED
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
        responses = {
            str(answer.status): _answer(answer, etag, idempotent) for answer in declared.answers
        }
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
            if status in _RETRYABLE:
                responses[str(status)]["headers"] = {"Retry-After": _RETRY_AFTER}
        blueprint, _, name = endpoint.partition(".")
        operation: dict[str, Any] = {
            "operationId": _camel(name),
            "tags": [blueprint],
            "summary": declared.summary,
            "responses": responses,
        }
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
        elif self.auth:
            operation["security"] = [{"bearer": []}]
        return operation


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


#: JSON Schema keywords of OpenAPI 3.1 that apispec, written for 3.0, leaves out of a field's
#: metadata unless told.
_KEPT_KEYWORDS = ("propertyNames", "dependentRequired")


def _json_schema_keywords(_: Any, field: Field[Any], **__: Any) -> dict[str, Any]:
    return {key: field.metadata[key] for key in _KEPT_KEYWORDS if key in field.metadata}


def build_openapi(app: Flask) -> bytes:
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="accounts-service",
        version="0.1.0",
        openapi_version="3.1.0",
        plugins=[marshmallow],
        info={"description": "Every account a user holds, in one list."},
    )
    converter = marshmallow.converter  # made as APISpec takes the plugin
    if converter is None:
        raise RuntimeError("apispec made no field converter")
    converter.add_attribute_function(_json_schema_keywords)  # type: ignore[no-untyped-call]
    register_components(spec)
    for named in _named_schemas(app):
        if component_name(named) not in spec.components.schemas:
            spec.components.schema(component_name(named), schema=named)
    if auth_enabled(app):
        spec.components.security_scheme(
            "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )
        spec.options["security"] = [{"bearer": []}]
    # The providers this service is configured with are the ones a link may name.
    provider = spec.components.schemas["NewConnection"]["properties"]["provider"]
    if providers := sorted(components_of(app).aggregation.providers):
        provider["enum"] = providers
    else:
        provider["description"] = "None is configured here: every link is refused (422)."
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
    used = {
        tag
        for operations in paths.values()
        for operation in operations.values()
        for tag in operation["tags"]
    }
    for tag in sorted(used):
        spec.tag({"name": tag, "description": _TAGS[tag]})
    return dumps_bytes(spec.to_dict())


def register_openapi(app: Flask) -> None:
    """After every other route: the document describes them all."""
    app.register_blueprint(blueprint)
    app.extensions[SPEC_KEY] = build_openapi(app)
