"""The service layer's rules, over the in-memory repository."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain import Account, AccountNotFound, AccountType, UserNotFound, VersionConflict
from app.repositories.memory import InMemoryAccountRepository
from app.seed import load_seed_file
from app.services import accounts
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


class ContendedRepository(InMemoryAccountRepository):
    """Lets another writer change the account right before each of our next `times` writes."""

    def __init__(self, times: int) -> None:
        super().__init__(load_seed_file(SEED_FILE))
        self.times = times

    def replace_account(
        self, user_id: str, account: Account, expected_version: int | None = None
    ) -> Account:
        if self.times:
            self.times -= 1
            other = super().get_account(user_id, account.id)
            super().replace_account(user_id, replace(other, provider=f"other {self.times}"))
        return super().replace_account(user_id, account, expected_version)


def rename(account: Account) -> Account:
    return replace(account, account_name="renamed")


def test_an_unconditional_patch_is_reapplied_onto_the_newer_account() -> None:
    repository = ContendedRepository(times=2)
    stored = accounts.patch_account(repository, "user123", "acc1", rename)
    assert stored.account_name == "renamed"
    assert stored.provider == "other 0", "the other writer's change is kept, not overwritten"


def test_a_conditional_patch_never_retries() -> None:
    repository = ContendedRepository(times=1)
    version = repository.get_account("user123", "acc1").version
    with pytest.raises(VersionConflict):
        accounts.patch_account(repository, "user123", "acc1", rename, expected_version=version)
    assert repository.get_account("user123", "acc1").account_name == "Chase Freedom"


def test_a_patch_that_never_gets_a_quiet_moment_gives_up() -> None:
    repository = ContendedRepository(times=accounts.PATCH_ATTEMPTS)
    with pytest.raises(VersionConflict):
        accounts.patch_account(repository, "user123", "acc1", rename)
    assert repository.get_account("user123", "acc1").account_name == "Chase Freedom"


def test_create_user_generates_an_id_when_none_is_given(
    repository: InMemoryAccountRepository,
) -> None:
    user_id = accounts.create_user(repository)
    assert user_id.startswith("user-")
    assert accounts.list_accounts(repository, user_id) == []
    assert accounts.create_user(repository, "chosen") == "chosen"
