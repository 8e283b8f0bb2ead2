"""The whole store at once: seeding it at start, and fixture mode's export and reset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.domain.accounts import Account
from app.services.repositories import StoreAdministration

Users = Mapping[str, Sequence[Account]]


def seed_if_empty(store: StoreAdministration, users: Users) -> None:
    """Loads `users` into a store that holds no user yet; a store in use is never touched."""
    if store.is_empty():
        store.seed(users)


def export(store: StoreAdministration) -> dict[str, list[Account]]:
    """Every user with their accounts, in the order they were added, as one snapshot."""
    return store.export()


def reset(store: StoreAdministration, users: Users) -> None:
    """Replaces everything stored with `users`, at once."""
    store.replace_all(users)
