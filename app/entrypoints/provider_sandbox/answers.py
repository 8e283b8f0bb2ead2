"""What the sandbox answers with: JSON bodies, Plaid's error objects, the faults' answers, and the
request's body read as Plaid's clients send it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, request
from werkzeug.exceptions import BadRequest

from app.adapters.exact_json import dumps_bytes, loads_exact
from app.entrypoints.provider_sandbox.state import Fault


def login_required() -> Response:
    return plaid_error(
        400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "the login details of this item changed"
    )


def json_answer(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(dumps_bytes(content), status, headers, mimetype="application/json")


def plaid_error(
    status: int,
    error_type: str,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return json_answer(
        {
            "error_type": error_type,
            "error_code": code,
            "error_message": message,
            "display_message": None,
            "request_id": secrets.token_hex(8),
        },
        status,
        headers,
    )


def body() -> dict[str, Any]:
    """The request's JSON object; an empty one for any other JSON."""
    parsed = json_body()
    return parsed if isinstance(parsed, dict) else {}


def json_body() -> Any:
    try:
        return loads_exact(request.get_data() or b"{}")
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON") from None


def invalid(message: str) -> Response:
    return plaid_error(400, "INVALID_REQUEST", "INVALID_FIELD", message)


def no_such_item() -> Response:
    return plaid_error(404, "INVALID_INPUT", "ITEM_NOT_FOUND", "no such item")


def unknown_access_token() -> Response:
    return plaid_error(400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "access token unknown")


#: What each fault answers instead of the item (None: the item, once the fault has passed).
FAULT_ANSWERS: dict[str, Callable[[Fault], Response | None]] = {
    "slow": lambda fault: time.sleep(fault.seconds),
    "server_error": lambda _: plaid_error(
        500, "API_ERROR", "INTERNAL_SERVER_ERROR", "the sandbox failed, as asked"
    ),
    "rate_limited": lambda fault: plaid_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        "RATE_LIMIT",
        "too many requests",
        {"Retry-After": f"{fault.seconds:g}"},
    ),
    "login_required": lambda _: login_required(),
}
