"""The contract every repository backend honours; a new backend joins the `repository` fixture."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest

from app.domain import Account, AccountNotFound, AccountType, UserNotFound
from app.repositories.base import AccountRepository
from app.repositories.memory import InMemoryAccountRepository
from app.schemas.accounts import AccountSchema
from tests.samples import valid_account

MakeRepository = Callable[[Mapping[str, Sequence[Account]]], AccountRepository]
BACKENDS: dict[str, MakeRepository] = {"memory": InMemoryAccountRepository}

_schema = AccountSchema()


def account(account_type: str, account_id: str) -> Account:
    loaded: Account = _schema.load(valid_account(account_type, id=account_id))
    return loaded


# Deliberately not in id or type order, to tell "the order added" apart from any sorting.
ALICE = [account("loan", "z9"), account("credit", "a1"), account("checking", "m5")]
BOB = [account("credit", "a1")]


@pytest.fixture(params=sorted(BACKENDS))
def repository(request: pytest.FixtureRequest) -> AccountRepository:
    return BACKENDS[request.param]({"alice": ALICE, "bob": BOB, "carol": []})


def test_lists_accounts_in_the_order_they_were_added(repository: AccountRepository) -> None:
    assert repository.list_accounts("alice") == ALICE


def test_filters_by_a_set_of_types_keeping_the_order(repository: AccountRepository) -> None:
    assert repository.list_accounts("alice", {AccountType.CREDIT, AccountType.LOAN}) == [
        ALICE[0],
        ALICE[1],
    ]
    assert repository.list_accounts("alice", {AccountType.SAVINGS}) == []


def test_a_user_without_accounts_has_an_empty_list(repository: AccountRepository) -> None:
    assert repository.list_accounts("carol") == []
    assert repository.list_accounts("carol", {AccountType.CREDIT}) == []


def test_an_unknown_user_is_not_found(repository: AccountRepository) -> None:
    with pytest.raises(UserNotFound):
        repository.list_accounts("dave")
    with pytest.raises(UserNotFound):
        repository.get_account("dave", "a1")


def test_gets_one_account_of_the_right_user(repository: AccountRepository) -> None:
    assert repository.get_account("alice", "a1") == ALICE[1]
    assert repository.get_account("bob", "a1") == BOB[0]


def test_an_account_of_another_user_is_not_found(repository: AccountRepository) -> None:
    with pytest.raises(AccountNotFound):
        repository.get_account("bob", "z9")


def test_the_list_handed_out_is_a_copy(repository: AccountRepository) -> None:
    repository.list_accounts("alice").clear()
    assert repository.list_accounts("alice") == ALICE
