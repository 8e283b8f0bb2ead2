"""schemathesis hooks for tests/e2e/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis
from hypothesis import strategies as st

from app.schemas.fields import TEXT_PATTERN


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    """A fresh Idempotency-Key for every request that sends one: the same key with another
    request is a 422 by design (stated in the document, tested in test_idempotency.py), which
    no schema can express, and schemathesis repeats the values it generates."""
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


def _with_check_digit(first_eight: str) -> str:
    weighted = sum(
        int(digit) * weight for digit, weight in zip(first_eight, (3, 7, 1) * 3, strict=False)
    )
    return first_eight + str(-weighted % 10)


# The format the document names for routing numbers, whose check digit no pattern states.
schemathesis.openapi.format(
    "aba-routing-number", st.from_regex(r"\A[0-9]{8}\Z").map(_with_check_digit)
)


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    """Amounts with at most four decimal places, as the document's description of every
    `format: decimal` number says (JSON Schema's multipleOf could say it, but most validators
    compute it in floats and then refuse valid amounts)."""
    if isinstance(body, float):
        return round(body, 4)
    if isinstance(body, dict):
        return {name: map_body(ctx, value) for name, value in body.items()}
    if isinstance(body, list):
        return [map_body(ctx, value) for value in body]
    return body


def _text(value: Any) -> bool:
    """No NUL and no lone surrogate anywhere in the value's strings."""
    if isinstance(value, str):
        return re.fullmatch(TEXT_PATTERN, value) is not None
    if isinstance(value, dict):
        return all(_text(key) and _text(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_text(item) for item in value)
    return True


@schemathesis.hook
def filter_body(ctx: Any, body: Any) -> bool:
    """Only bodies whose strings are text: the document states it (TEXT_PATTERN on every text
    field), but schemathesis's generator does not always keep to a negated character class."""
    return _text(body)
