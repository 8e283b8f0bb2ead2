"""`Idempotency-Key` on POST (the IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A retry with the same key and the same request gets the first answer again (status, body,
Location), and nothing is written twice; the same key with another request is a 422; a retry
while the first is still running is a 409. Keys belong to the user the request is for (the URL's,
or for POST /users the token's), are kept 24 hours, and are held in the store, so that they hold
across worker processes and hosts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from app.api.auth import current_principal
from app.api.context import components
from app.api.problems import Problem
from app.domain import DomainError
from app.jobs.running import utcnow
from app.repositories.base import KeyState, RecordedAnswer

HEADER = "Idempotency-Key"
#: How long a key and its answer are kept.
KEPT_FOR = timedelta(hours=24)
#: How long a request holds its key; a request that died lets it go after this.
HELD_FOR = timedelta(seconds=60)
#: The headers of an answer that a retry gets again, beside its status and body.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")
MAX_KEY_LENGTH = 255
#: Marks an answer given again to a retry (as Stripe's API does).
REPLAYED = "Idempotent-Replayed"

View = TypeVar("View", bound=Callable[..., Any])


def idempotent(view: View) -> View:
    """Makes a POST view honour Idempotency-Key (see the module)."""

    @wraps(view)
    def honouring_the_key(**arguments: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(**arguments)
        _check(key)
        principal = current_principal()
        owner = arguments.get("user_id") or (principal.user_id if principal else "")
        body = request.get_data(cache=True)  # kept for the view, which reads it again
        fingerprint = hashlib.sha256(
            b"\0".join([request.method.encode(), request.full_path.encode(), body])
        ).hexdigest()
        keys = components().idempotency
        now = utcnow()
        claim = keys.claim_key(owner, key, fingerprint, now, now + HELD_FOR, now + KEPT_FOR)
        if claim.state is KeyState.MISMATCH:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency key reused",
                f"The {HEADER} was used with another request; use a new key for a new request.",
            )
        if claim.state is KeyState.IN_PROGRESS:
            raise Problem(
                409,
                "idempotency-key-in-use",
                "Idempotency key in use",
                f"A request with this {HEADER} is still running; retry once it has answered.",
                {"Retry-After": "1"},
            )
        if claim.answer is not None:
            replayed = Response(claim.answer.body, claim.answer.status, list(claim.answer.headers))
            replayed.headers[REPLAYED] = "true"
            return replayed
        try:
            answer = current_app.make_response(view(**arguments))
        except (DomainError, Problem, HTTPException) as refused:
            answer = current_app.make_response(current_app.handle_user_exception(refused))
        except BaseException:
            keys.release_key(owner, key, fingerprint)
            raise
        if answer.status_code >= 500 or answer.status_code == 429:
            # Not an answer to keep: the same request may well succeed when tried again.
            keys.release_key(owner, key, fingerprint)
        else:
            headers = tuple(
                (name, answer.headers[name]) for name in REPLAYED_HEADERS if name in answer.headers
            )
            keys.complete_key(
                owner,
                key,
                fingerprint,
                RecordedAnswer(answer.status_code, answer.get_data(), headers),
            )
        return answer

    honouring_the_key.__idempotent__ = True  # type: ignore[attr-defined]  # read by app/api/openapi.py
    return honouring_the_key  # type: ignore[return-value]


def is_idempotent(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, "__idempotent__", False))


def _check(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid idempotency key",
            f"The {HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
        )
