"""Routes for using the service as a test fixture: save the whole state, and start over.

Registered only when FIXTURE_MODE is on (as `accounts-service serve` does): they read and
replace every user's data at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask import Blueprint, Response, request

from app.adapters.seed import SeedDataError, parse_seed
from app.domain.accounts import Account
from app.entrypoints.http.context import components
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import json_body, json_response
from app.entrypoints.http.problems import Problem
from app.schemas.accounts import AccountSchema
from app.services import store as service

# A seed sent to /reset may be far larger than an account; this is still far below harm.
RESET_MAX_BYTES = 64 * 1024 * 1024

blueprint = Blueprint("fixture", __name__)

_account_schema = AccountSchema()


@blueprint.get("/export")
@contract(
    "Every user and account, in the seed-file format.", [Answer(200, "The whole store.", "Seed")]
)
def export() -> Response:
    """The whole store in the seed-file format: save it, and start a server from it later."""
    users = service.export(components().store)
    return json_response(
        {user_id: _account_schema.dump(accounts, many=True) for user_id, accounts in users.items()}
    )


@blueprint.post("/reset")
@contract(
    "Replace everything with the body's seed data, or the start-up seed.",
    [Answer(204, "Replaced.")],
    body=Body("SeedInput", required=False),
)
def reset() -> Response:
    """Replaces every user with the seed-format body, or with the start-up seed when empty."""
    request.max_content_length = RESET_MAX_BYTES
    users: Mapping[str, Sequence[Account]] = components().seed
    if request.content_length or request.is_json:
        try:
            users = parse_seed(json_body(), source="reset body")
        except SeedDataError as error:
            raise Problem(422, "invalid-body", "Invalid body", str(error)) from None
    service.reset(components().store, users)
    return Response(status=204)
