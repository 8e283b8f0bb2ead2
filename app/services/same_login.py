"""Telling a login linked again from a new one, so that no login is linked twice: each
connection keeps a fingerprint of its login's accounts when linked, and the store keeps one
connection per user, provider, institution and fingerprint (however close together two links
come); connections linked before fingerprints were kept are matched by their synced accounts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from app.domain.connections import Connection
from app.domain.errors import AlreadyLinked
from app.services.aggregation import Aggregation
from app.services.providers import AccountIdentity, LinkedItem


def fingerprint(accounts: Iterable[AccountIdentity]) -> str | None:
    """What a login's accounts are, as one value: the provider's persistent ids where every
    account has one, else their masks and names (Plaid's guide to duplicate Items); None for a
    login whose accounts the provider did not list, which nothing can be told apart from."""
    found = list(accounts)
    if not found:
        return None
    if all(account.persistent_id for account in found):
        said = sorted(f"id:{account.persistent_id}" for account in found)
    else:
        said = sorted(f"{account.mask or ''}:{account.name.casefold()}" for account in found)
    return hashlib.sha256("\n".join(said).encode()).hexdigest()


def not_linked_before(
    aggregation: Aggregation,
    user_id: str,
    linked: Iterable[Connection],
    provider_name: str,
    item: LinkedItem,
) -> None:
    """Raises AlreadyLinked for one of the user's `linked` connections, linked before
    fingerprints were kept, whose synced accounts are the item's, by mask and name (later ones
    the store's unique key tells)."""
    older = [
        connection.id
        for connection in linked
        if connection.fingerprint is None
        and (connection.provider, connection.institution_id) == (provider_name, item.institution_id)
    ]
    if not older:
        return
    named = fingerprint(AccountIdentity(a.mask, a.name) for a in item.accounts)
    accounts = aggregation.accounts.list_accounts(user_id)
    for connection_id in older:
        synced = [
            AccountIdentity(account.mask, account.account_name)
            for account in accounts
            if account.connection_id == connection_id
        ]
        if synced and fingerprint(synced) == named:
            raise AlreadyLinked(connection_id)
