"""marshmallow's refusals as the domain's InvalidData: nested error dicts, flattened to (field
path, message) pairs.

("details.apr", "Must be greater than or equal to 0 …") reads well in an error response and in a
start-up message alike.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from app.domain.errors import InvalidData


def load(schema: Schema, data: Any) -> Any:
    """`schema.load(data)`, a refusal raised as InvalidData naming each bad field."""
    try:
        return schema.load(data)
    except ValidationError as error:
        raise InvalidData(flatten_messages(error.messages)) from None


def flatten_messages(messages: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(messages, dict):
        return [
            pair
            for key, nested in messages.items()
            for pair in flatten_messages(nested, _join(path, key))
        ]
    if isinstance(messages, list):
        return [pair for message in messages for pair in flatten_messages(message, path)]
    return [(path, str(messages))]


def _join(path: str, key: object) -> str:
    if key == "_schema":  # marshmallow's key for an error about the object itself
        return path
    # An unknown field's name is the client's own text, which may not be writable as UTF-8 (a
    # lone surrogate): it is named with such characters escaped.
    name = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{path}.{name}" if path else name
