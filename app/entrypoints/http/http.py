"""Request and response mechanics shared by the routes: JSON bodies, ETags, preconditions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Response, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from app.adapters.exact_json import dumps_bytes, loads_exact
from app.domain.accounts import Account
from app.domain.errors import DomainError, InvalidData
from app.entrypoints.http.problems import Problem
from app.services.accounts import Precondition


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


def query(schema: Schema) -> dict[str, Any]:
    """The request's query parameters, loaded by `schema`; a 400 naming each bad one."""
    try:
        loaded: dict[str, Any] = schema.load(request.args.to_dict())
    except ValidationError as refused:
        wrong = {name: " ".join(found) for name, found in refused.messages_dict.items()}
        detail = "; ".join(f"{name}: {what}" for name, what in wrong.items())
        raise invalid_query(f"Invalid query parameter(s): {detail}", wrong.items()) from None
    return loaded


def json_body() -> Any:
    """The request body as JSON, numbers as Decimal; 415, 400 or (past the size limit) 413."""
    return parsed_json(body_bytes())


def parsed_json(data: bytes) -> Any:
    """`data`, the request's body, as JSON; 415 unless the request says it is JSON, 400 unless
    it is."""
    if not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the body as JSON, with Content-Type: application/json.",
        )
    try:
        return loads_exact(data)
    except (ValueError, RecursionError) as error:
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"The body is not JSON: {error}."
        ) from None


def body_bytes() -> bytes:
    """The body, 413 past the size limit, whether its length was declared or it came in chunks.

    Werkzeug refuses a declared length over the limit, but stops reading a chunked body at the
    limit without a word; the byte after it tells whether there was more.
    """
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if (
        request.content_length is None
        and limit is not None
        and len(data) >= limit
        and request.environ["wsgi.input"].read(1)
    ):
        raise RequestEntityTooLarge()
    return data


def json_object_body(data: bytes | None = None) -> dict[str, Any]:
    """The body (or `data`, the body read already) as a JSON object; 422 if it is other JSON."""
    body = json_body() if data is None else parsed_json(data)
    if not isinstance(body, dict):
        raise InvalidData([("", "Must be a JSON object.")])
    return body


def no_body() -> None:
    """For a write that takes no body: nothing, or an empty JSON object, passes; any other body
    is refused as any body would be (413 past the size limit, 415 unless JSON, 400 unless it
    parses), and as JSON with a 422."""
    data = body_bytes()
    if data and parsed_json(data) != {}:
        raise InvalidData([("", "This route takes no body: send none.")])


def entity_tag(body: bytes) -> str:
    # From the bytes themselves, so a tag can never outlive what it names: not across a restart,
    # not across a delete and re-create, not across a change to how accounts are written.
    return hashlib.blake2b(body, digest_size=16).hexdigest()


#: Where app/entrypoints/http/cached_reads.py leaves what the store refused for a request that it
#: then hands to Flask, whose view answers it without asking the store again.
REFUSED_IN_FRONT = "accounts_service.refused"


def refused_in_front(environ: Mapping[str, Any], user_id: str) -> None:
    """Raises what the store refused for this request in front of Flask (UserNotFound,
    StorageUnavailable), if it did."""
    refused: tuple[str, DomainError] | None = environ.get(REFUSED_IN_FRONT)
    if refused is not None and refused[0] == user_id:
        raise refused[1]


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


def if_match(representation: Callable[[Account], Any]) -> Precondition | None:
    """The request's If-Match as a precondition on the stored account: true while the account's
    `representation` still has one of the tags it names (or any, for `*`); None without one."""
    condition = request.if_match
    if not condition:
        return None
    return lambda account: entity_tag(dumps_bytes(representation(account))) in condition
