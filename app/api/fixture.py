"""Routes for using the service as a test fixture: save the whole state, and start over.

Registered only when FIXTURE_MODE is on (as `accounts-service serve` does): they read and
replace every user's data at once.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from app.api.accounts import repository
from app.api.http import json_body, json_response, refuse_unknown_parameters
from app.api.problems import Problem
from app.schemas.accounts import AccountSchema
from app.seed import SeedDataError, parse_seed
from app.services import accounts as service

SEED_KEY = "accounts.seed"
# A seed sent to /reset may be far larger than an account; this is still far below harm.
RESET_MAX_BYTES = 64 * 1024 * 1024

blueprint = Blueprint("fixture", __name__)

_account_schema = AccountSchema()


@blueprint.get("/export")
def export() -> Response:
    """The whole store in the seed-file format: save it, and start a server from it later."""
    refuse_unknown_parameters([])
    users = service.export(repository())
    return json_response(
        {user_id: _account_schema.dump(accounts, many=True) for user_id, accounts in users.items()}
    )


@blueprint.post("/reset")
def reset() -> Response:
    """Replaces every user with the seed-format body, or with the start-up seed when empty."""
    refuse_unknown_parameters([])
    request.max_content_length = RESET_MAX_BYTES
    if request.content_length or request.is_json:
        try:
            users = parse_seed(json_body(), source="reset body")
        except SeedDataError as error:
            raise Problem(422, "invalid-body", "Invalid body", str(error)) from None
    else:
        users = current_app.extensions[SEED_KEY]
    service.replace_all(repository(), users)
    return Response(status=204)
