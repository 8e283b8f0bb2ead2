"""Users themselves: create (under a chosen or a generated id), look up, change (their base
currency), delete."""

from __future__ import annotations

from app.domain.accounts import User
from app.services.accounts import new_id
from app.services.repositories import AccountRepository


def create_user(repository: AccountRepository, user_id: str | None = None) -> User:
    """Adds a user without accounts, under `user_id`, or a generated id when it is None."""
    user = User(user_id or new_id("user"), 0)
    repository.add_user(user.id)
    return user


def list_users(
    repository: AccountRepository, after: str | None, limit: int
) -> tuple[list[str], str | None]:
    """A page of user ids in id order, from the one after `after`, and the id the next page
    starts after (None on the last)."""
    found = repository.list_users(after, limit + 1)
    page = found[:limit]
    return page, page[-1] if len(found) > limit else None


def get_user(repository: AccountRepository, user_id: str) -> User:
    accounts = repository.list_accounts(user_id)
    return User(user_id, len(accounts), repository.base_currency(user_id))


def change_user(repository: AccountRepository, user_id: str, base_currency: str | None) -> User:
    """Applies what a patch of the user gives (its base currency), and answers the user."""
    if base_currency is not None:
        repository.set_base_currency(user_id, base_currency)
    return get_user(repository, user_id)


def delete_user(repository: AccountRepository, user_id: str) -> None:
    """Removes the user and all of their accounts."""
    repository.delete_user(user_id)
