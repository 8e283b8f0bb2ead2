"""Reading a seed file: a JSON object mapping each user id to the list of that user's accounts.

Every account is checked with the same schemas the API answers with; the first bad one stops
start-up with a single line naming the file, the user, the account and each bad field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from app.adapters.exact_json import loads_exact
from app.config import ConfigurationError
from app.domain.accounts import ID_RE, ID_RULE, Account
from app.schemas.accounts import AccountSchema
from app.schemas.errors import flatten_messages

_ACCOUNT_SCHEMA = AccountSchema()


class SeedDataError(ConfigurationError):
    """The seed file cannot be used; the message is meant to be shown as it is."""


def load_seed_file(path: Path) -> dict[str, list[Account]]:
    try:
        raw = loads_exact(path.read_bytes())
    except OSError as error:
        raise SeedDataError(f"seed file {path}: cannot read it: {error.strerror}") from None
    except ValueError as error:
        raise SeedDataError(f"seed file {path}: not valid JSON: {error}") from None
    return parse_seed(raw, source=f"seed file {path}")


def parse_seed(raw: Any, source: str) -> dict[str, list[Account]]:
    if not isinstance(raw, dict):
        raise SeedDataError(f"{source}: must be a JSON object mapping user ids to account lists")
    return {user_id: _parse_user(user_id, accounts, source) for user_id, accounts in raw.items()}


def _parse_user(user_id: str, raw_accounts: Any, source: str) -> list[Account]:
    where = f"{source}: user '{user_id}'"
    if not ID_RE.fullmatch(user_id):
        raise SeedDataError(f"{where}: not a valid user id ({ID_RULE})")
    if not isinstance(raw_accounts, list):
        raise SeedDataError(f"{where}: must be a list of accounts")
    accounts: dict[str, Account] = {}
    for position, raw_account in enumerate(raw_accounts, start=1):
        account = _parse_account(raw_account, f"{where}, {_describe(raw_account, position)}")
        if account.id in accounts:
            raise SeedDataError(f"{where}: account id '{account.id}' appears twice")
        accounts[account.id] = account
    return list(accounts.values())


def _parse_account(raw_account: Any, where: str) -> Account:
    if not isinstance(raw_account, dict):
        raise SeedDataError(f"{where}: must be a JSON object")
    try:
        account: Account = _ACCOUNT_SCHEMA.load(raw_account)
    except ValidationError as error:
        problems = "; ".join(
            f"field '{field}': {message}" for field, message in flatten_messages(error.messages)
        )
        raise SeedDataError(f"{where}: {problems}") from None
    return account


def _describe(raw_account: Any, position: int) -> str:
    account_id = raw_account.get("id") if isinstance(raw_account, dict) else None
    if isinstance(account_id, str):
        return f"account '{account_id}'"
    return f"account #{position}"
