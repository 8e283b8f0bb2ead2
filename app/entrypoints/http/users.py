"""HTTP routes for users themselves: list (admins), create, look up, change (their base
currency), delete (with all their accounts)."""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from app.domain.accounts import User
from app.entrypoints.http.auth import require_access
from app.entrypoints.http.context import repository
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import json_object_body, json_response, query
from app.entrypoints.http.idempotency import idempotent
from app.schemas.errors import load
from app.schemas.users import (
    NewUserSchema,
    UserListQuerySchema,
    UserListSchema,
    UserPatchSchema,
    UserSchema,
)
from app.services import users as service

blueprint = Blueprint("users", __name__)

_new_user_schema = NewUserSchema()
_user_schema = UserSchema()
_list_query_schema = UserListQuerySchema()
_list_schema = UserListSchema()
_patch_schema = UserPatchSchema()


def _user_response(
    user: User, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return json_response(_user_schema.dump(user), status, headers)


@blueprint.get("/users")
@contract(
    "The users' ids, a page at a time, in id order (the admin scope, when sign-in is on).",
    [Answer(200, "A page of ids; `next` asks for the one after.", UserListSchema)],
    query=UserListQuerySchema,
)
def list_users() -> Response:
    asked = query(_list_query_schema)
    page, after = service.list_users(repository(), asked.get("after"), asked["limit"])
    return json_response(_list_schema.dump({"users": page, "next": after}))


@blueprint.post("/users")
@contract(
    "Create a user without accounts; the id is generated when left out.",
    [Answer(201, "Created.", UserSchema, location=True)],
    body=Body(NewUserSchema, required=False),
    errors=[409],
)
@idempotent
def create_user() -> Response:
    # An empty POST is fine: it asks for a user with a generated id.
    body = json_object_body() if request.content_length or request.is_json else {}
    requested = load(_new_user_schema, body).get("id")
    require_access(requested)  # a token may create its own user; only an admin any other
    user = service.create_user(repository(), requested)
    return _user_response(user, 201, {"Location": url_for(".get_user", user_id=user.id)})


@blueprint.get("/users/<id:user_id>")
@contract(
    "A user and how many accounts they hold.",
    [Answer(200, "The user.", UserSchema)],
    conditional_read=True,
)
def get_user(user_id: str) -> Response:
    return _user_response(service.get_user(repository(), user_id))


@blueprint.patch("/users/<id:user_id>")
@contract(
    "Change the user: their base currency, which their totals are converted into.",
    [Answer(200, "The user, changed.", UserSchema)],
    body=Body(UserPatchSchema, ("application/merge-patch+json", "application/json")),
)
def patch_user(user_id: str) -> Response:
    asked = load(_patch_schema, json_object_body())
    return _user_response(service.change_user(repository(), user_id, asked.get("base_currency")))


@blueprint.delete("/users/<id:user_id>")
@contract("Delete the user and all of their accounts.", [Answer(204, "Deleted.")])
def delete_user(user_id: str) -> Response:
    service.delete_user(repository(), user_id)
    return Response(status=204)
