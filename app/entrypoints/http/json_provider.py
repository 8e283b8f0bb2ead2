"""Flask's JSON with money kept exact.

Flask's default provider writes `Decimal` as a string and sorts keys; this one writes every number
with its own digits, in schema order (see app/adapters/exact_json.py).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.json.provider import JSONProvider

from app.adapters.exact_json import dumps_bytes, loads_exact


class ExactJSONProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps_bytes(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_exact(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = dumps_bytes(self._prepare_response_obj(args, kwargs))
        return Response(body, mimetype="application/json")
