"""HTTP routes for users themselves: create, look up, delete (with all their accounts)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for

from app.api.accounts import repository
from app.api.auth import require_access
from app.api.http import json_object_body, json_response, load, refuse_unknown_parameters
from app.schemas.users import NewUserSchema
from app.services import accounts as service

blueprint = Blueprint("users", __name__)

_new_user_schema = NewUserSchema()


def _user(user_id: str, account_count: int) -> dict[str, Any]:
    return {"userId": user_id, "accountCount": account_count}


@blueprint.post("/users")
def create_user() -> Response:
    refuse_unknown_parameters([])
    # An empty POST is fine: it asks for a user with a generated id.
    body = json_object_body() if request.content_length or request.is_json else {}
    user_id = load(_new_user_schema, body).get("id") or service.new_id("user")
    require_access(user_id)  # a token may create its own user; only an admin any other
    service.create_user(repository(), user_id)
    location = url_for(".get_user", user_id=user_id)
    return json_response(_user(user_id, 0), 201, {"Location": location})


@blueprint.get("/users/<id:user_id>")
def get_user(user_id: str) -> Response:
    refuse_unknown_parameters([])
    return json_response(_user(user_id, len(service.list_accounts(repository(), user_id))))


@blueprint.delete("/users/<id:user_id>")
def delete_user(user_id: str) -> Response:
    refuse_unknown_parameters([])
    service.delete_user(repository(), user_id)
    return Response(status=204)
