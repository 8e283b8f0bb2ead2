"""HTTP routes for reading accounts: parse the request, call the service, shape the answer."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask import Blueprint, current_app, request

from app.api.problems import Problem
from app.domain import AccountType
from app.repositories.base import AccountRepository
from app.schemas.accounts import AccountSchema, UserAccountsSchema
from app.services import accounts as service

REPOSITORY_KEY = "accounts.repository"

blueprint = Blueprint("accounts", __name__)

_account_schema = AccountSchema()
_user_accounts_schema = UserAccountsSchema()
_TYPE_VALUES = frozenset(AccountType)
_ALLOWED_TYPES = ", ".join(AccountType)


def _repository() -> AccountRepository:
    repository: AccountRepository = current_app.extensions[REPOSITORY_KEY]
    return repository


def _refuse_unknown_parameters(allowed: Collection[str]) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        takes = f"this route takes: {', '.join(allowed)}" if allowed else "this route takes none"
        raise Problem(
            400,
            "invalid-query",
            "Invalid query parameter",
            f"Unknown query parameter(s): {', '.join(unknown)}; {takes}.",
            errors=[{"parameter": name, "detail": "Unknown query parameter."} for name in unknown],
        )


def _requested_types() -> list[AccountType]:
    """`?type=credit,loan` and `?type=credit&type=loan` both ask for the union."""
    values = [part for value in request.args.getlist("type") for part in value.split(",")]
    unknown = [value for value in values if value not in _TYPE_VALUES]
    if unknown:
        raise Problem(
            400,
            "invalid-query",
            "Invalid query parameter",
            f"Unknown account type(s): {', '.join(map(repr, unknown))}. "
            f"Allowed types: {_ALLOWED_TYPES}.",
            allowedTypes=list(AccountType),
            errors=[
                {"parameter": "type", "detail": f"Unknown account type {value!r}."}
                for value in unknown
            ],
        )
    return [AccountType(value) for value in values]


@blueprint.get("/users/<id:user_id>/accounts")
def list_accounts(user_id: str) -> Any:
    _refuse_unknown_parameters(["type"])
    accounts = service.list_accounts(_repository(), user_id, _requested_types())
    return _user_accounts_schema.dump({"user_id": user_id, "accounts": accounts})


@blueprint.get("/users/<id:user_id>/accounts/<id:account_id>")
def get_account(user_id: str, account_id: str) -> Any:
    _refuse_unknown_parameters([])
    return _account_schema.dump(service.get_account(_repository(), user_id, account_id))
