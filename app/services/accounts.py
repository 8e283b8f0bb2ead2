"""Reading and changing users' accounts: the rules, in plain Python over a repository.

Bodies arrive here as the JSON the client sent (numbers already `Decimal`); whether they make a
valid account, which id it gets, how a patch merges and whether a write is still allowed are
decided here, the same for every caller.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from typing import Any

from app.domain.accounts import USER_OWNED, Account, AccountFilter, AccountType
from app.domain.errors import InvalidData, ProviderOwned, TypeChangeNeedsPut, VersionConflict
from app.schemas.accounts import AccountSchema
from app.schemas.errors import load
from app.services.cache import CachedBody, CacheKey, ResponseCache
from app.services.repositories import AccountRepository

#: Whether the stored account is still the one the client last saw (HTTP's If-Match).
Precondition = Callable[[Account], bool]

_account_schema = AccountSchema()


def new_id(prefix: str) -> str:
    """A fresh id such as `acc-3f9c2a7d1e4b6c80`: 64 random bits, no coordination needed."""
    return f"{prefix}-{secrets.token_hex(8)}"


EVERY_ACCOUNT = AccountFilter()


def list_accounts(
    repository: AccountRepository, user_id: str, shown: AccountFilter = EVERY_ACCOUNT
) -> list[Account]:
    """The user's accounts that `shown` lets through, in the order they were added."""
    return _shown(repository.list_accounts(user_id, shown.types or None), shown)


def _shown(found: list[Account], shown: AccountFilter) -> list[Account]:
    """The accounts of `found` (already of `shown`'s types) that `shown` lets through."""
    if shown.subtypes or shown.statuses:
        return [account for account in found if shown.matches(account)]
    return found


def cached_list(
    repository: AccountRepository,
    cache: ResponseCache,
    user_id: str,
    shown: AccountFilter,
    render: Callable[[list[Account]], CachedBody],
) -> CachedBody:
    """The rendered list, from the cache when it holds the user's current revision.

    The revision is read first (or with the accounts, in one go): accounts read after it are at
    least as new as it says, so an entry can be newer than its key but never older (see
    app/adapters/cache.py).
    """
    revision, accounts = revision_and_accounts(repository, user_id, shown.types or None)
    return cache.fetch(
        CacheKey(user_id, shown.key(), revision), lambda: render(_shown(accounts(), shown))
    )


def revision_and_accounts(
    repository: AccountRepository, user_id: str, types: Collection[AccountType] | None = None
) -> tuple[int, Callable[[], list[Account]]]:
    """The user's revision, and how to have their accounts of `types` as of it: those the store
    read with it, or, when it read none, read when asked (after it: at least as new)."""
    revision, read_with_it = repository.listing(user_id, types)
    if read_with_it is not None:
        return revision, lambda: read_with_it
    return revision, lambda: repository.list_accounts(user_id, types)


def get_account(repository: AccountRepository, user_id: str, account_id: str) -> Account:
    return repository.get_account(user_id, account_id)


def create_account(
    repository: AccountRepository,
    user_id: str,
    body: Mapping[str, Any],
    limit: int | None = None,
) -> Account:
    """Adds the account `body` describes; its `id` is generated when the body has none. Raises
    TooManyAccounts when the user holds `limit` accounts already."""
    account_id = body["id"] if "id" in body else new_id("acc")
    account = _account(body, account_id)
    _refuse_provider_owned_changes(None, account)
    return repository.add_account(user_id, account, limit)


def replace_account(
    repository: AccountRepository,
    user_id: str,
    account_id: str,
    body: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Account:
    """Replaces the whole account with the one `body` describes, which may change its type."""
    version = _expected_version(repository, user_id, account_id, precondition)
    account = _account(body, account_id)

    def replace(current: Account) -> Account:
        _refuse_provider_owned_changes(current, account)
        return account

    return repository.modify_account(user_id, account_id, replace, version)


def patch_account(
    repository: AccountRepository,
    user_id: str,
    account_id: str,
    patch: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Account:
    """Merges `patch` into the account (RFC 7396 JSON Merge Patch); its type must stay.

    Without a precondition the patch applies to whatever is stored at that moment: concurrent
    patches of one account take turns, each onto the result of the one before, so every one of
    them sticks and none overwrites a field it does not name.
    """
    version = _expected_version(repository, user_id, account_id, precondition)

    def apply(current: Account) -> Account:
        merged = merge_patch(_account_schema.dump(current), patch)
        if merged.get("type") != current.type:
            raise TypeChangeNeedsPut(account_id, current.type)
        patched = _account(merged, account_id)
        _refuse_provider_owned_changes(current, patched)
        return patched

    return repository.modify_account(user_id, account_id, apply, version)


def delete_account(
    repository: AccountRepository,
    user_id: str,
    account_id: str,
    precondition: Precondition | None = None,
) -> None:
    version = _expected_version(repository, user_id, account_id, precondition)
    repository.delete_account(user_id, account_id, version)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


_LINK = ("connection_id", "external_id")
# On a synced account the provider says everything but what is the user's own.
_PROVIDER_SAYS = tuple(
    field.name for field in fields(Account) if field.compare and field.name not in USER_OWNED
)
_WIRE_NAMES = {
    name: field.data_key or name
    for name, field in _account_schema.type_schemas["credit"].fields.items()
}


def _refuse_provider_owned_changes(current: Account | None, new: Account) -> None:
    """Only a sync links an account to a provider: a new account, or one added by hand, stays
    unlinked. And only a sync changes a synced account."""
    if current is not None and current.synced:
        changed = [name for name in _PROVIDER_SAYS if getattr(current, name) != getattr(new, name)]
    else:
        changed = [name for name in _LINK if getattr(new, name) is not None]
    if changed:
        raise ProviderOwned(new.id, [_WIRE_NAMES[name] for name in changed])


def _account(body: Mapping[str, Any], account_id: str) -> Account:
    """The body as an account stored under `account_id`; an `id` in the body must agree."""
    if body.get("id", account_id) != account_id:
        raise InvalidData([("id", f"Must be '{account_id}', the id in the URL, or left out.")])
    loaded: Account = load(_account_schema, {**body, "id": account_id})
    return loaded


def _expected_version(
    repository: AccountRepository,
    user_id: str,
    account_id: str,
    precondition: Precondition | None,
) -> int | None:
    """None for an unconditional write, which then reads nothing first; otherwise the version
    of the stored account, which must still satisfy the precondition (else VersionConflict),
    for the repository's compare-and-set."""
    if precondition is None:
        return None
    current = repository.get_account(user_id, account_id)
    if not precondition(current):
        raise VersionConflict(user_id, account_id)
    return current.version
