"""Each route's contract, declared once, where the route is defined: what it takes and answers.

The OpenAPI document is generated from these declarations and the marshmallow schemas they name
(app/entrypoints/http/openapi.py), and what can be enforced of them is: a route refuses any query
parameter its contract does not declare, and a write that declares no body refuses one. Declaring
adds nothing to a request's work: the decorator only attaches the contract to the view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, request
from marshmallow import Schema

from app.entrypoints.http.http import invalid_query, no_body

#: A marshmallow schema, a component written out in the document (by name), or an inline
#: JSON Schema.
SchemaRef = type[Schema] | str | dict[str, Any]

View = TypeVar("View", bound=Callable[..., Any])

_ATTRIBUTE = "__contract__"


@dataclass(frozen=True)
class Answer:
    """A successful answer."""

    status: int
    description: str
    schema: SchemaRef | None = None
    media_type: str = "application/json"
    #: Whether the answer names the new resource in a Location header.
    location: bool = False


@dataclass(frozen=True)
class Body:
    schema: SchemaRef
    media_types: tuple[str, ...] = ("application/json",)
    required: bool = True


@dataclass(frozen=True)
class Contract:
    summary: str
    answers: tuple[Answer, ...]
    description: str | None = None
    #: The query parameters: each field of the schema is one.
    query: type[Schema] | None = None
    body: Body | None = None
    #: GET answers carry an ETag, and If-None-Match gets a 304.
    conditional_read: bool = False
    #: If-Match makes the write conditional (412 when it no longer matches).
    conditional_write: bool = False
    #: Problems beyond those every route of its kind may answer (app/entrypoints/http/openapi.py).
    errors: frozenset[int] = field(default_factory=frozenset)

    def query_parameters(self) -> frozenset[str]:
        if self.query is None:
            return frozenset()
        return frozenset(item.data_key or name for name, item in self.query().fields.items())


def contract(
    summary: str,
    answers: Iterable[Answer],
    *,
    errors: Collection[int] = (),
    **details: Any,
) -> Callable[[View], View]:
    """Declares the contract of the view it decorates (below the route decorator)."""
    declared = Contract(summary, tuple(answers), errors=frozenset(errors), **details)

    def declare(view: View) -> View:
        setattr(view, _ATTRIBUTE, declared)
        return view

    return declare


def contract_of(view: Callable[..., Any]) -> Contract | None:
    found: Contract | None = getattr(view, _ATTRIBUTE, None)
    return found


def refuse_what_is_not_declared(app: Flask, endpoints: Collection[str]) -> None:
    """Query parameters the contract does not declare are a 400 on `endpoints`, so a typo such
    as `?typ=credit` is noticed rather than silently ignored; and a write whose contract takes no
    body refuses one (app/entrypoints/http/http.py no_body) rather than ignoring it."""
    declared: dict[str, tuple[frozenset[str], bool]] = {}
    for endpoint in endpoints:
        found = contract_of(app.view_functions[endpoint])
        if found is None:
            raise LookupError(f"the route {endpoint!r} declares no contract")
        declared[endpoint] = (found.query_parameters(), found.body is not None)

    def refuse() -> None:
        found = declared.get(request.endpoint or "")
        if found is None:
            return
        allowed, takes_body = found
        if request.args:
            unknown = sorted(set(request.args) - allowed)
            if unknown:
                names = ", ".join(sorted(allowed))
                takes = f"this route takes: {names}" if allowed else "this route takes none"
                raise invalid_query(
                    f"Unknown query parameter(s): {', '.join(unknown)}; {takes}.",
                    [(name, "Unknown query parameter.") for name in unknown],
                )
        if not takes_body and request.method not in _READS and _has_body():
            no_body()

    app.before_request(refuse)


#: Methods whose body, if any, means nothing (RFC 9110): not refused, as not read.
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
