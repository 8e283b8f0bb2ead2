"""HTTP route for merging an account added by hand into the synced account it is
(app/services/merging.py)."""

from __future__ import annotations

from flask import Blueprint, Response

from app.entrypoints.http.accounts import account_response
from app.entrypoints.http.context import repository
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import json_object_body
from app.entrypoints.http.idempotency import idempotent
from app.schemas.accounts import AccountSchema
from app.schemas.errors import load
from app.schemas.merges import MergeSchema
from app.services.merging import merge_into

blueprint = Blueprint("merges", __name__)

_merge_schema = MergeSchema()


@blueprint.post("/users/<id:user_id>/accounts/<id:account_id>/merge")
@contract(
    "Merge an account added by hand (`accountId`) into this synced one: one account, with both "
    "histories.",
    [Answer(200, "The synced account, the other merged into it.", AccountSchema)],
    description="The synced account keeps its id; it takes the hand-entered account's balance "
    "history for the days it has none of its own (and its nickname, if it has none), and the "
    "hand-entered account is deleted, all at once. 409 `not-mergeable` unless the two are the "
    "same account: one added by hand, this one synced, of one type, with the same mask, at the "
    "same institution (the hand-entered `provider` being the synced one's).",
    body=Body(MergeSchema),
    errors=[409],
)
@idempotent
def merge(user_id: str, account_id: str) -> Response:
    asked = load(_merge_schema, json_object_body())
    return account_response(merge_into(repository(), user_id, account_id, asked["account_id"]))
