"""Reading a user's accounts."""

from __future__ import annotations

from collections.abc import Collection

from app.domain import Account, AccountType
from app.repositories.base import AccountRepository


def list_accounts(
    repository: AccountRepository, user_id: str, types: Collection[AccountType] = ()
) -> list[Account]:
    """Every account of the user, or only those of `types` (their union) when any are given."""
    return repository.list_accounts(user_id, frozenset(types) or None)


def get_account(repository: AccountRepository, user_id: str, account_id: str) -> Account:
    return repository.get_account(user_id, account_id)
