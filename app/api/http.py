"""Request and response mechanics shared by the routes: JSON bodies, ETags, preconditions."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from typing import Any

from flask import Response, request
from marshmallow import Schema, ValidationError

from app.api.problems import Problem
from app.domain import Account, VersionConflict
from app.exact_json import dumps_bytes, loads_exact
from app.schemas.errors import flatten_messages


def invalid_query(detail: str, errors: Iterable[tuple[str, str]], **extensions: Any) -> Problem:
    """A 400 naming each bad query parameter: `errors` pairs a parameter with what is wrong."""
    return Problem(
        400,
        "invalid-query",
        "Invalid query parameter",
        detail,
        errors=[{"parameter": name, "detail": problem} for name, problem in errors],
        **extensions,
    )


def refuse_unknown_parameters(allowed: Collection[str]) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        takes = f"this route takes: {', '.join(allowed)}" if allowed else "this route takes none"
        raise invalid_query(
            f"Unknown query parameter(s): {', '.join(unknown)}; {takes}.",
            [(name, "Unknown query parameter.") for name in unknown],
        )


def json_body() -> Any:
    """The request body as JSON, numbers as Decimal; 415, 400 or (past the size limit) 413."""
    if not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the body as JSON, with Content-Type: application/json.",
        )
    try:
        return loads_exact(request.get_data(cache=False))
    except (ValueError, RecursionError) as error:
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"The body is not JSON: {error}."
        ) from None


def invalid_body(messages: Any) -> Problem:
    """A 422 naming each bad field by its path in the body, such as `details.apr`."""
    errors = [{"field": field, "detail": message} for field, message in flatten_messages(messages)]
    fields = ", ".join(error["field"] or "(the body)" for error in errors)
    return Problem(422, "invalid-body", "Invalid body", f"Invalid: {fields}.", errors=errors)


def json_object_body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise invalid_body(["Must be a JSON object."])
    return body


def load(schema: Schema, data: dict[str, Any]) -> Any:
    try:
        return schema.load(data)
    except ValidationError as error:
        raise invalid_body(error.messages) from None


def entity_tag(body: bytes) -> str:
    # From the bytes themselves, so a tag can never outlive what it names: not across a restart,
    # not across a delete and re-create, not across a change to how accounts are written.
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def body_response(
    body: bytes, etag: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON bytes with their strong ETag; a GET whose If-None-Match holds that tag gets 304."""
    # By hand rather than Response.make_conditional, which also parses Range and dates that this
    # API never serves: this is the busiest path, and most requests carry no If-None-Match.
    if (
        status == 200
        and request.method in ("GET", "HEAD")
        and "HTTP_IF_NONE_MATCH" in request.environ
        and request.if_none_match.contains_weak(etag)
    ):
        response = Response(status=304, headers=headers)
    else:
        response = Response(body, status, headers, mimetype="application/json")
    response.set_etag(etag)
    return response


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = dumps_bytes(data)
    return body_response(body, entity_tag(body), status, headers)


def expected_version(user_id: str, current: Account, current_body: Any) -> int | None:
    """Honours If-Match: None for an unconditional write, the version the client saw otherwise.

    Raises VersionConflict (412) when the tag the client sent is no longer the account's.
    """
    condition = request.if_match
    if not condition:
        return None
    if entity_tag(dumps_bytes(current_body)) not in condition:
        raise VersionConflict(user_id, current.id)
    return current.version
