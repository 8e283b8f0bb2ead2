"""The service layer's rules, over the in-memory repository."""

from __future__ import annotations

import pytest

from app.domain import (
    Account,
    AccountNotFound,
    AccountType,
    User,
    UserNotFound,
    VersionConflict,
)
from app.repositories.memory import InMemoryAccountRepository
from app.seed import load_seed_file
from app.services import accounts, users
from tests.conftest import SEED_FILE


@pytest.fixture
def repository() -> InMemoryAccountRepository:
    return InMemoryAccountRepository(load_seed_file(SEED_FILE))


def ids(found: list[Account]) -> list[str]:
    return [account.id for account in found]


def test_no_type_means_every_account(repository: InMemoryAccountRepository) -> None:
    assert ids(accounts.list_accounts(repository, "user123")) == ["acc1", "acc2", "acc3"]
    assert ids(accounts.list_accounts(repository, "user123", [])) == ["acc1", "acc2", "acc3"]


def test_several_types_give_their_union(repository: InMemoryAccountRepository) -> None:
    found = accounts.list_accounts(
        repository, "user123", [AccountType.CHECKING, AccountType.CREDIT]
    )
    assert ids(found) == ["acc1", "acc3"]


def test_a_type_asked_twice_counts_once(repository: InMemoryAccountRepository) -> None:
    found = accounts.list_accounts(repository, "user123", [AccountType.LOAN, AccountType.LOAN])
    assert ids(found) == ["acc2"]


def test_unknown_user(repository: InMemoryAccountRepository) -> None:
    with pytest.raises(UserNotFound, match="nobody"):
        accounts.list_accounts(repository, "nobody")


def test_get_account(repository: InMemoryAccountRepository) -> None:
    assert accounts.get_account(repository, "user456", "acc4").provider == "Amex"
    with pytest.raises(AccountNotFound, match="acc1"):
        accounts.get_account(repository, "user456", "acc1")


RENAME = {"accountName": "renamed"}


def test_patch_applies_the_change(repository: InMemoryAccountRepository) -> None:
    stored = accounts.patch_account(repository, "user123", "acc1", RENAME)
    assert stored.account_name == "renamed"
    assert accounts.get_account(repository, "user123", "acc1") == stored


def test_a_conditional_patch_of_a_changed_account_is_refused(
    repository: InMemoryAccountRepository,
) -> None:
    seen = accounts.get_account(repository, "user123", "acc1")
    accounts.patch_account(repository, "user123", "acc1", RENAME)
    with pytest.raises(VersionConflict):
        accounts.patch_account(
            repository, "user123", "acc1", {"provider": "x"}, lambda current: current == seen
        )
    assert accounts.get_account(repository, "user123", "acc1").provider == "Chase"


def test_create_user_generates_an_id_when_none_is_given(
    repository: InMemoryAccountRepository,
) -> None:
    user = users.create_user(repository)
    assert user.id.startswith("user-")
    assert accounts.list_accounts(repository, user.id) == []
    assert users.create_user(repository, "chosen") == User("chosen", 0)
