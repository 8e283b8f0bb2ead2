"""JSON with money kept exact: each number written with the digits it was stored with (1200.45,
never "1200.45" or 1200.4500000000001), in the order given, and read back as `Decimal`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


def _encode_decimal(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot write {value!r} as JSON")


def dumps_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_encode_decimal)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> None:
    # Python's json reads NaN and Infinity, which are not JSON and not amounts.
    raise ValueError(f"{name} is not a JSON number")


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as `Decimal`, so no float ever touches an amount.

    A key given twice is an error rather than silently keeping the last value: in a seed file it
    would otherwise drop a whole user without a word. NaN and Infinity are errors too.
    """
    return json.loads(
        text,
        parse_float=Decimal,
        parse_constant=_refuse_constant,
        object_pairs_hook=_refuse_duplicate_keys,
    )
