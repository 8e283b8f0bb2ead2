"""Reading and changing users' accounts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping, Sequence

from app.domain import Account, AccountType
from app.repositories.base import AccountRepository


def new_id(prefix: str) -> str:
    """A fresh id such as `acc-3f9c2a7d1e4b6c80`: 64 random bits, no coordination needed."""
    return f"{prefix}-{secrets.token_hex(8)}"


def list_accounts(
    repository: AccountRepository, user_id: str, types: Collection[AccountType] = ()
) -> list[Account]:
    """Every account of the user, or only those of `types` (their union) when any are given."""
    return repository.list_accounts(user_id, frozenset(types) or None)


def user_revision(repository: AccountRepository, user_id: str) -> int:
    """Changes with every write to the user's accounts; raises UserNotFound."""
    return repository.user_revision(user_id)


def get_account(repository: AccountRepository, user_id: str, account_id: str) -> Account:
    return repository.get_account(user_id, account_id)


def create_user(repository: AccountRepository, user_id: str | None = None) -> str:
    """Adds a user without accounts, under `user_id` or a generated id; returns the id."""
    user_id = user_id or new_id("user")
    repository.add_user(user_id)
    return user_id


def delete_user(repository: AccountRepository, user_id: str) -> None:
    repository.delete_user(user_id)


def create_account(repository: AccountRepository, user_id: str, account: Account) -> Account:
    return repository.add_account(user_id, account)


def replace_account(
    repository: AccountRepository,
    user_id: str,
    account: Account,
    expected_version: int | None = None,
) -> Account:
    """Replaces the whole account, which may change its type."""
    return repository.replace_account(user_id, account, expected_version)


def patch_account(
    repository: AccountRepository,
    user_id: str,
    account_id: str,
    apply: Callable[[Account], Account],
    expected_version: int | None = None,
) -> Account:
    """Stores `apply(current)` in place of the current account, never over someone else's write.

    With `expected_version` the patch applies to that version only (else VersionConflict).
    Without it, the patch applies to whatever is stored at that moment: concurrent patches of one
    account take turns, each onto the result of the one before, so every one of them sticks.
    """
    return repository.modify_account(user_id, account_id, apply, expected_version)


def delete_account(
    repository: AccountRepository,
    user_id: str,
    account_id: str,
    expected_version: int | None = None,
) -> None:
    repository.delete_account(user_id, account_id, expected_version)


def export(repository: AccountRepository) -> dict[str, list[Account]]:
    return repository.export()


def replace_all(repository: AccountRepository, users: Mapping[str, Sequence[Account]]) -> None:
    repository.replace_all(users)
