"""HTTP routes for a user's accounts: parse the request, call the service, shape the answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from app.api.http import (
    body_response,
    entity_tag,
    expected_version,
    invalid_body,
    invalid_query,
    json_object_body,
    json_response,
    load,
    refuse_unknown_parameters,
)
from app.api.problems import Problem
from app.cache import CachedBody, CacheKey, ResponseCache
from app.domain import Account, AccountType
from app.exact_json import dumps_bytes
from app.metrics import ACCOUNTS_SERVED
from app.repositories.base import AccountRepository
from app.schemas.accounts import AccountSchema, UserAccountsSchema
from app.services import accounts as service

REPOSITORY_KEY = "accounts.repository"
READ_REPOSITORY_KEY = "accounts.read_repository"
CACHE_KEY = "accounts.cache"

blueprint = Blueprint("accounts", __name__)

_account_schema = AccountSchema()
_user_accounts_schema = UserAccountsSchema()
_TYPE_VALUES = frozenset(AccountType)
_ALLOWED_TYPES = ", ".join(AccountType)
ACCOUNT_ROUTE = "/users/<id:user_id>/accounts/<id:account_id>"


def repository() -> AccountRepository:
    """The store for this request: GET and HEAD may read a replica; every step of a write,
    its reads included, goes to the primary."""
    key = READ_REPOSITORY_KEY if request.method in ("GET", "HEAD") else REPOSITORY_KEY
    found: AccountRepository = current_app.extensions[key]
    return found


def _cache() -> ResponseCache:
    found: ResponseCache = current_app.extensions[CACHE_KEY]
    return found


def _requested_types() -> list[AccountType]:
    """`?type=credit,loan` and `?type=credit&type=loan` both ask for the union."""
    values = [part for value in request.args.getlist("type") for part in value.split(",")]
    unknown = [value for value in values if value not in _TYPE_VALUES]
    if unknown:
        raise invalid_query(
            f"Unknown account type(s): {', '.join(map(repr, unknown))}. "
            f"Allowed types: {_ALLOWED_TYPES}.",
            [("type", f"Unknown account type {value!r}.") for value in unknown],
            allowedTypes=list(AccountType),
        )
    return [AccountType(value) for value in values]


def _account_response(account: Account, status: int = 200) -> Response:
    return json_response(_account_schema.dump(account), status)


def _load_account(body: dict[str, Any], account_id: str) -> Account:
    """The body as an account stored under `account_id`; an `id` in the body must agree."""
    if body.setdefault("id", account_id) != account_id:
        raise invalid_body({"id": [f"Must be '{account_id}', the id in the URL, or left out."]})
    loaded: Account = load(_account_schema, body)
    return loaded


def _if_match_version(user_id: str, account_id: str) -> int | None:
    """The account's version if the request's If-Match names it; None without If-Match.

    404 when there is no such account, 412 when If-Match names another state of it.
    """
    current = service.get_account(repository(), user_id, account_id)
    return expected_version(user_id, current, _account_schema.dump(current))


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


@blueprint.get("/users/<id:user_id>/accounts")
def list_accounts(user_id: str) -> Response:
    """Served from the response cache; see app/cache.py for why it is never stale."""
    refuse_unknown_parameters(["type"])
    types = frozenset(_requested_types())
    store = repository()
    # The revision first: the accounts read after it are then at least as new as it says.
    key = CacheKey(user_id, ",".join(sorted(types)), service.user_revision(store, user_id))

    def render() -> CachedBody:
        accounts = service.list_accounts(store, user_id, types)
        body = dumps_bytes(_user_accounts_schema.dump({"user_id": user_id, "accounts": accounts}))
        return CachedBody(body, entity_tag(body), len(accounts))

    entry = _cache().fetch(key, render)
    ACCOUNTS_SERVED.inc(entry.accounts)
    return body_response(entry.body, entry.etag)


@blueprint.post("/users/<id:user_id>/accounts")
def create_account(user_id: str) -> Response:
    refuse_unknown_parameters([])
    body = json_object_body()
    account = _load_account(body, body["id"] if "id" in body else service.new_id("acc"))
    response = _account_response(service.create_account(repository(), user_id, account), 201)
    response.headers["Location"] = url_for(".get_account", user_id=user_id, account_id=account.id)
    return response


@blueprint.get(ACCOUNT_ROUTE)
def get_account(user_id: str, account_id: str) -> Response:
    refuse_unknown_parameters([])
    return _account_response(service.get_account(repository(), user_id, account_id))


@blueprint.put(ACCOUNT_ROUTE)
def replace_account(user_id: str, account_id: str) -> Response:
    refuse_unknown_parameters([])
    body = json_object_body()
    version = _if_match_version(user_id, account_id)
    account = _load_account(body, account_id)
    stored = service.replace_account(repository(), user_id, account, version)
    return _account_response(stored)


@blueprint.patch(ACCOUNT_ROUTE)
def patch_account(user_id: str, account_id: str) -> Response:
    refuse_unknown_parameters([])
    patch = json_object_body()
    version = _if_match_version(user_id, account_id)

    def apply(account: Account) -> Account:
        merged = _merge_patch(_account_schema.dump(account), patch)
        if merged.get("type") != account.type:
            # Another type has other details, every one of which must then be given: that is a PUT.
            raise Problem(
                422,
                "type-change-needs-put",
                "Type change needs PUT",
                f"PATCH cannot change the type of account '{account_id}'; "
                "PUT a complete account of the new type instead.",
                errors=[{"field": "type", "detail": f"Must stay '{account.type}' in a PATCH."}],
            )
        return _load_account(merged, account_id)

    stored = service.patch_account(repository(), user_id, account_id, apply, version)
    return _account_response(stored)


@blueprint.delete(ACCOUNT_ROUTE)
def delete_account(user_id: str, account_id: str) -> Response:
    refuse_unknown_parameters([])
    version = _if_match_version(user_id, account_id)
    service.delete_account(repository(), user_id, account_id, version)
    return Response(status=204)
