"""An account added by hand merged into the synced account it turned out to be, once its bank is
linked: the synced account keeps its id (its syncs write it), and takes the hand-entered one's
balance history for the days before it was synced, and its nickname when it has none. The two
must be the same account: one added by hand, one synced, of one type, with the same mask, at the
same institution (the hand-entered account's `provider` is the synced one's institution name)."""

from __future__ import annotations

from dataclasses import replace

from app.domain.accounts import Account
from app.domain.errors import NotMergeable
from app.services.repositories import AccountRepository


def merge_into(store: AccountRepository, user_id: str, synced_id: str, by_hand_id: str) -> Account:
    """The synced account, with the hand-entered one merged into it (which is gone). Raises
    UserNotFound, AccountNotFound, or NotMergeable (and then nothing changes)."""
    if synced_id == by_hand_id:
        raise NotMergeable("an account is itself already.")
    return store.merge_account(user_id, synced_id, by_hand_id, _merged)


def _merged(synced: Account, by_hand: Account) -> Account:
    if synced.connection_id is None:
        raise NotMergeable(f"'{synced.id}' was added by hand: merge into a synced account.")
    if by_hand.connection_id is not None:
        raise NotMergeable(f"'{by_hand.id}' is synced: only one added by hand merges into another.")
    if by_hand.type is not synced.type:
        raise NotMergeable(f"one is {by_hand.type}, the other {synced.type}.")
    if by_hand.mask is None or by_hand.mask != synced.mask:
        raise NotMergeable("their masks differ (or one has none).")
    if by_hand.provider.casefold() != synced.provider.casefold():
        raise NotMergeable(f"'{by_hand.provider}' is not '{synced.provider}'.")
    return replace(synced, nickname=synced.nickname or by_hand.nickname)
