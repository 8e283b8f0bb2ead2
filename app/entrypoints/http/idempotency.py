"""`Idempotency-Key` on POST (the IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A retry with the same key and the same request gets the first answer again (status, body,
Location), and nothing is written twice; the same key with another request is a 422; a retry
while the first is still running is a 409. Keys belong to the user the request is for (the URL's,
or for POST /users the token's), are kept 24 hours, and are held in the store, so that they hold
across worker processes and hosts.

Safe through a crash at any moment, as Stripe's idempotency keys are: the request's effect and its
answer commit in one transaction (a unit of work: app/services/unit.py), so a crash leaves
both, and a retry replays the answer, or neither, and a retry runs the request for the first
time. A request that died holds its key until IDEMPOTENCY_LEASE_SECONDS have passed; a retry then
takes it over, and the one that was overtaken, should it still be running, records nothing and
rolls its effect back.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from app.adapters.queue.running import utcnow
from app.domain.errors import DomainError
from app.entrypoints.http.auth import current_principal
from app.entrypoints.http.context import components
from app.entrypoints.http.problems import Problem
from app.services.repositories import KeyState, RecordedAnswer
from app.services.unit import unit_of_work

HEADER = "Idempotency-Key"
#: How long a key and its answer are kept.
KEPT_FOR = timedelta(hours=24)
#: The headers of an answer that a retry gets again, beside its status and body.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")
MAX_KEY_LENGTH = 255
#: Marks an answer given again to a retry (as Stripe's API does).
REPLAYED = "Idempotent-Replayed"

View = TypeVar("View", bound=Callable[..., Any])


class _NotKept(Exception):
    """Undoes a request whose answer is not one to keep (a 5xx or a 429)."""

    def __init__(self, answer: Response) -> None:
        super().__init__()
        self.answer = answer


class _Overtaken(Exception):
    """Undoes a request whose key a retry took over: that one's answer stands."""


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
        holder = secrets.token_hex(16)
        now = utcnow()
        lease = timedelta(seconds=float(current_app.config["IDEMPOTENCY_LEASE_SECONDS"]))
        claim = keys.claim_key(owner, key, fingerprint, holder, now, now + lease, now + KEPT_FOR)
        if claim.state is KeyState.MISMATCH:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency key reused",
                f"The {HEADER} was used with another request; use a new key for a new request.",
            )
        if claim.state is KeyState.IN_PROGRESS:
            raise _in_use()
        if claim.answer is not None:
            replayed = Response(claim.answer.body, claim.answer.status, list(claim.answer.headers))
            replayed.headers[REPLAYED] = "true"
            return replayed
        try:
            with unit_of_work():
                answer = current_app.make_response(view(**arguments))
                if not _kept(answer):
                    raise _NotKept(answer)
                if not keys.complete_key(owner, key, holder, _recorded(answer)):
                    raise _Overtaken()
        except _NotKept as not_kept:
            keys.release_key(owner, key, holder)
            return not_kept.answer
        except _Overtaken:
            raise _in_use() from None
        except (DomainError, Problem, HTTPException) as refused:
            # Nothing of the request was written (its unit rolled back), or what was written
            # cannot be done (a queue that refused its job): a refusal is recorded on its own.
            answer = current_app.make_response(current_app.handle_user_exception(refused))
            if not _kept(answer) or not keys.complete_key(owner, key, holder, _recorded(answer)):
                keys.release_key(owner, key, holder)
        except BaseException:
            keys.release_key(owner, key, holder)
            raise
        return answer

    honouring_the_key.__idempotent__ = True  # type: ignore[attr-defined]  # read by app/entrypoints/http/openapi.py
    return honouring_the_key  # type: ignore[return-value]


def _kept(answer: Response) -> bool:
    """Whether a retry gets this answer again: not a 5xx or a 429, after which the same
    request may well succeed."""
    return answer.status_code < 500 and answer.status_code != 429


def _recorded(answer: Response) -> RecordedAnswer:
    headers = tuple(
        (name, answer.headers[name]) for name in REPLAYED_HEADERS if name in answer.headers
    )
    return RecordedAnswer(answer.status_code, answer.get_data(), headers)


def _in_use() -> Problem:
    return Problem(
        409,
        "idempotency-key-in-use",
        "Idempotency key in use",
        f"A request with this {HEADER} is still running; retry once it has answered.",
        {"Retry-After": "1"},
    )


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
