"""HTTP routes for a user's accounts: read the request, call a service, shape the answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Response, request, url_for

from app.adapters.exact_json import dumps_bytes
from app.adapters.metrics import ACCOUNTS_SERVED
from app.adapters.queue.running import utcnow
from app.domain.accounts import ALL_SUBTYPES, FILTER_VALUES, Account, AccountFilter
from app.domain.errors import UnknownFilterValues
from app.entrypoints.http.cached_reads import FrontDoor
from app.entrypoints.http.context import components, repository
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import (
    body_response,
    entity_tag,
    if_match,
    invalid_query,
    json_object_body,
    json_response,
    query,
    refused_in_front,
)
from app.entrypoints.http.idempotency import idempotent
from app.entrypoints.http.problems import Problem
from app.schemas.accounts import AccountFilterSchema, AccountSchema, UserAccountsSchema
from app.schemas.summary import SummaryQuerySchema, SummarySchema
from app.services import accounts as service
from app.services import summary as summary_service
from app.services.accounts import Precondition
from app.services.cache import CachedBody, ResponseCache
from app.services.repositories import AccountRepository
from app.services.summary import CurrencySummary, converted_summary, summarize

blueprint = Blueprint("accounts", __name__)

_account_schema = AccountSchema()
_user_accounts_schema = UserAccountsSchema()
_summary_schema = SummarySchema()
_summary_query_schema = SummaryQuerySchema()
LIST_ROUTE = "/users/<id:user_id>/accounts"
SUMMARY_ROUTE = "/users/<id:user_id>/summary"
ACCOUNT_ROUTE = "/users/<id:user_id>/accounts/<id:account_id>"
_THE_ACCOUNT = Answer(200, "The account.", "Account")


# How each filter parameter is named in the 400 that lists its allowed values.
_FILTER_WORDS = {
    "type": ("account type", "account types", "allowed_types"),
    "subtype": ("subtype", "subtypes", "allowed_subtypes"),
    "status": ("status", "statuses", "allowed_statuses"),
}


def _requested_filter() -> AccountFilter:
    """The list's filter, from the request: `?type=a,b` and `?type=a&type=b` both ask for the
    union; a 400 names any unknown value, with every allowed one."""
    try:
        return AccountFilter.parse({name: request.args.getlist(name) for name in FILTER_VALUES})
    except UnknownFilterValues as refused:
        raise _unknown_values(refused) from None


def _unknown_values(refused: UnknownFilterValues) -> Problem:
    one, many, listed_as = _FILTER_WORDS[refused.name]
    named = ", ".join(map(repr, refused.unknown))
    hint = ""
    if refused.name == "type" and all(value in ALL_SUBTYPES for value in refused.unknown):
        hint = f" {named} {'is a subtype' if len(refused.unknown) == 1 else 'are subtypes'}: "
        hint += f"ask ?subtype={','.join(refused.unknown)}."
    return invalid_query(
        f"Unknown {one if len(refused.unknown) == 1 else many}: {named}. "
        f"Allowed {many}: {', '.join(refused.allowed)}.{hint}",
        [(refused.name, f"Unknown {one} {value!r}.") for value in refused.unknown],
        **{listed_as: list(refused.allowed)},
    )


def _filter_in_front(query: str) -> AccountFilter | None:
    """The filter a list's query string asks for, in front of Flask; None for anything Flask
    must judge (another parameter, an unknown value)."""
    if not query:
        return AccountFilter()
    asked: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in FILTER_VALUES:
            return None
        asked.setdefault(name, []).append(value)
    try:
        return AccountFilter.parse(asked)
    except UnknownFilterValues:
        return None


def account_response(account: Account, status: int = 200) -> Response:
    return json_response(_account_schema.dump(account), status)


def _rewrite(
    change: Callable[
        [AccountRepository, str, str, Mapping[str, Any], Precondition | None], Account
    ],
    user_id: str,
    account_id: str,
) -> Response:
    """A PUT or PATCH: the body and If-Match handed to the service's `change`."""
    body = json_object_body()
    stored = change(repository(), user_id, account_id, body, if_match(_account_schema.dump))
    return account_response(stored)


def _render(user_id: str, accounts: list[Account]) -> CachedBody:
    body = dumps_bytes(_user_accounts_schema.dump({"user_id": user_id, "accounts": accounts}))
    return CachedBody(body, entity_tag(body), len(accounts))


@blueprint.get(LIST_ROUTE)
@contract(
    "Every account of the user, in the order they were added.",
    [Answer(200, "The accounts.", UserAccountsSchema)],
    description="Answered from a cache of response bodies that any write to the user's "
    "accounts makes stale at once, in every process: the answer always reflects every write "
    "already acknowledged.",
    query=AccountFilterSchema,
    conditional_read=True,
)
def list_accounts(user_id: str) -> Response:
    refused_in_front(request.environ, user_id)
    entry = list_entry(repository(), components().cache, user_id, _requested_filter())
    ACCOUNTS_SERVED.inc(entry.accounts)
    return body_response(entry.body, entry.etag)


def list_entry(
    repository: AccountRepository, cache: ResponseCache, user_id: str, shown: AccountFilter
) -> CachedBody:
    """The list's body and ETag, cached: what the view and its front door answer."""
    return service.cached_list(
        repository, cache, user_id, shown, lambda accounts: _render(user_id, accounts)
    )


def summary_entry(repository: AccountRepository, cache: ResponseCache, user_id: str) -> CachedBody:
    """The summary's body and ETag, cached: what the view and its front door answer."""
    return summary_service.cached_summary(
        repository, cache, user_id, lambda found: _render_summary(user_id, found)
    )


@blueprint.get(SUMMARY_ROUTE)
@contract(
    "Net worth, per currency: assets, liabilities, and each type's count and total.",
    [Answer(200, "The summary.", SummarySchema)],
    description="Never adds across currencies, but with `?currency=`, where `converted` adds "
    "them up in that currency with today's ECB rates, naming any currency without one "
    "(`missingRates`) rather than counting it 1:1. Closed accounts, and those with "
    "`includeInNetWorth: false`, are left out and counted apart. Cached, and made stale by "
    "every write, exactly as the list is.",
    query=SummaryQuerySchema,
    conditional_read=True,
)
def summary(user_id: str) -> Response:
    refused_in_front(request.environ, user_id)
    asked = query(_summary_query_schema)
    if "currency" not in asked:
        entry = summary_entry(repository(), components().cache, user_id)
        return body_response(entry.body, entry.etag)
    # Rates change by the day and as they are loaded: this one is not cached.
    found = summarize(repository().list_accounts(user_id))
    total = converted_summary(found, asked["currency"], utcnow().date(), components().rates)
    return json_response(
        _summary_schema.dump({"user_id": user_id, "currencies": found, "converted": total})
    )


def _render_summary(user_id: str, currencies: list[CurrencySummary]) -> CachedBody:
    body = dumps_bytes(_summary_schema.dump({"user_id": user_id, "currencies": currencies}))
    return CachedBody(body, entity_tag(body), 0)


def _no_query(query: str) -> bool | None:
    return None if query else True


#: The list and the summary are also answered in front of Flask (cached_reads.py), by these
#: doors: the same entry functions, the same filter; what the store refuses there reaches the
#: views above through the environ (refused_in_front), so that the store is asked once.
FRONT_DOORS = (
    FrontDoor(LIST_ROUTE, _filter_in_front, list_entry, lists_accounts=True),
    FrontDoor(
        SUMMARY_ROUTE,
        _no_query,
        lambda store, cache, user_id, _: summary_entry(store, cache, user_id),
    ),
)


@blueprint.post(LIST_ROUTE)
@contract(
    "Add an account; `id` may be left out, and is then generated.",
    [Answer(201, "Created.", "Account", location=True)],
    body=Body("AccountInput"),
    errors=[409],
)
@idempotent
def create_account(user_id: str) -> Response:
    parts = components()
    account = service.create_account(
        parts.repository, user_id, json_object_body(), parts.max_accounts
    )
    response = account_response(account, 201)
    response.headers["Location"] = url_for(".get_account", user_id=user_id, account_id=account.id)
    return response


@blueprint.get(ACCOUNT_ROUTE)
@contract("One account.", [_THE_ACCOUNT], conditional_read=True)
def get_account(user_id: str, account_id: str) -> Response:
    return account_response(service.get_account(repository(), user_id, account_id))


@blueprint.put(ACCOUNT_ROUTE)
@contract(
    "Replace the whole account; its type may change. Does not create.",
    [_THE_ACCOUNT],
    body=Body("AccountReplacement"),
    conditional_write=True,
    errors=[409],
)
def replace_account(user_id: str, account_id: str) -> Response:
    return _rewrite(service.replace_account, user_id, account_id)


@blueprint.patch(ACCOUNT_ROUTE)
@contract(
    "Merge into the account (JSON Merge Patch); its type stays.",
    [_THE_ACCOUNT],
    body=Body("AccountPatch", ("application/merge-patch+json", "application/json")),
    conditional_write=True,
    errors=[409],
)
def patch_account(user_id: str, account_id: str) -> Response:
    return _rewrite(service.patch_account, user_id, account_id)


@blueprint.delete(ACCOUNT_ROUTE)
@contract("Delete the account.", [Answer(204, "Deleted.")], conditional_write=True)
def delete_account(user_id: str, account_id: str) -> Response:
    service.delete_account(repository(), user_id, account_id, if_match(_account_schema.dump))
    return Response(status=204)
