"""HTTP routes for users themselves: list (admins), create, look up, delete (with all their
accounts)."""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for
from marshmallow import ValidationError

from app.domain.accounts import User
from app.entrypoints.http.auth import require_access
from app.entrypoints.http.context import repository
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import invalid_query, json_object_body, json_response
from app.entrypoints.http.idempotency import idempotent
from app.schemas.errors import load
from app.schemas.users import NewUserSchema, UserListQuerySchema, UserListSchema, UserSchema
from app.services import users as service

blueprint = Blueprint("users", __name__)

_new_user_schema = NewUserSchema()
_user_schema = UserSchema()
_list_query_schema = UserListQuerySchema()
_list_schema = UserListSchema()


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
    try:
        asked = _list_query_schema.load(request.args.to_dict())
    except ValidationError as refused:
        wrong = {name: " ".join(found) for name, found in refused.messages_dict.items()}
        detail = "; ".join(f"{name}: {what}" for name, what in wrong.items())
        raise invalid_query(f"Invalid query parameter(s): {detail}", wrong.items()) from None
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


@blueprint.delete("/users/<id:user_id>")
@contract("Delete the user and all of their accounts.", [Answer(204, "Deleted.")])
def delete_user(user_id: str) -> Response:
    service.delete_user(repository(), user_id)
    return Response(status=204)
