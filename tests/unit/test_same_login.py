"""A login's fingerprint: what tells it from another at the same institution."""

from __future__ import annotations

from app.services.providers import AccountIdentity
from app.services.same_login import fingerprint

CHECKING = AccountIdentity("0000", "Plaid Checking", "persistent-0")
SAVINGS = AccountIdentity("1111", "Plaid Saving", "persistent-1")


def test_the_same_accounts_in_any_order_are_the_same_login() -> None:
    assert fingerprint([CHECKING, SAVINGS]) == fingerprint([SAVINGS, CHECKING])
    assert fingerprint([CHECKING]) != fingerprint([CHECKING, SAVINGS])


def test_persistent_ids_decide_where_every_account_has_one() -> None:
    renamed = AccountIdentity("0000", "Everyday", "persistent-0")
    assert fingerprint([renamed, SAVINGS]) == fingerprint([CHECKING, SAVINGS])
    # Else masks and names, in any case.
    bare = [AccountIdentity("0000", "PLAID CHECKING"), AccountIdentity("1111", "Plaid Saving")]
    assert fingerprint(bare) == fingerprint([AccountIdentity("0000", "plaid checking"), SAVINGS])


def test_a_login_whose_accounts_are_not_listed_is_like_no_other() -> None:
    assert fingerprint([]) is None
