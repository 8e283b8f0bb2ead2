"""The service layer's rules, over the in-memory repository."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from app.adapters.cache import ProcessCache
from app.adapters.seed import load_seed_file
from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.accounts import (
    Account,
    AccountFilter,
    AccountStatus,
    AccountType,
    CreditDetails,
    User,
)
from app.domain.connections import Connection
from app.domain.errors import (
    AccountNotFound,
    InvalidData,
    ProviderOwned,
    TypeChangeNeedsPut,
    UserNotFound,
    VersionConflict,
)
from app.schemas.accounts import AccountSchema
from app.services import accounts, users
from app.services.cache import CachedBody
from tests.conftest import SEED_FILE
from tests.samples import valid_account


@pytest.fixture
def repository() -> InMemoryAccountRepository:
    return InMemoryAccountRepository(load_seed_file(SEED_FILE))


def ids(found: list[Account]) -> list[str]:
    return [account.id for account in found]


def test_no_type_means_every_account(repository: InMemoryAccountRepository) -> None:
    assert ids(accounts.list_accounts(repository, "user123")) == ["acc1", "acc2", "acc3"]
    assert ids(accounts.list_accounts(repository, "user123", AccountFilter())) == [
        "acc1",
        "acc2",
        "acc3",
    ]


def test_several_types_give_their_union(repository: InMemoryAccountRepository) -> None:
    found = accounts.list_accounts(
        repository,
        "user123",
        AccountFilter(types=frozenset({AccountType.CHECKING, AccountType.CREDIT})),
    )
    assert ids(found) == ["acc1", "acc3"]


def test_filters_each_take_any_of_their_values_and_together_all_hold(
    repository: InMemoryAccountRepository,
) -> None:
    accounts.patch_account(repository, "user789", "acc7", {"status": "closed"})
    shown = {
        AccountFilter(subtypes=frozenset({"mortgage", "roth"})): ["acc6", "acc8"],
        AccountFilter(statuses=frozenset({AccountStatus.CLOSED})): ["acc7"],
        AccountFilter(statuses=frozenset({AccountStatus.OPEN})): ["acc5", "acc6", "acc8"],
        AccountFilter(
            types=frozenset({AccountType.CHECKING, AccountType.LOAN}),
            statuses=frozenset({AccountStatus.OPEN}),
        ): ["acc8"],
        AccountFilter(types=frozenset({AccountType.LOAN}), subtypes=frozenset({"student"})): [],
    }
    for asked, expected in shown.items():
        assert ids(accounts.list_accounts(repository, "user789", asked)) == expected, asked
    # Spelled in another order, a filter is the same filter (and the same cache entry).
    assert (
        AccountFilter(subtypes=frozenset({"roth", "mortgage"})).key()
        == AccountFilter(subtypes=frozenset({"mortgage", "roth"})).key()
    )


def test_a_type_asked_twice_counts_once(repository: InMemoryAccountRepository) -> None:
    found = accounts.list_accounts(
        repository, "user123", AccountFilter(types=frozenset([AccountType.LOAN, AccountType.LOAN]))
    )
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


class CountingReads(InMemoryAccountRepository):
    """Counts the single-account reads a rule makes before it writes."""

    reads = 0

    def get_account(self, user_id: str, account_id: str) -> Account:
        self.reads += 1
        return super().get_account(user_id, account_id)


@pytest.fixture
def counting() -> CountingReads:
    return CountingReads(load_seed_file(SEED_FILE))


def test_a_created_account_gets_an_id_when_its_body_has_none(
    repository: InMemoryAccountRepository,
) -> None:
    body = valid_account("loan")
    del body["id"]
    created = accounts.create_account(repository, "user123", body)
    assert re.fullmatch(r"acc-[0-9a-f]{16}", created.id)
    assert accounts.get_account(repository, "user123", created.id) == created
    chosen = accounts.create_account(repository, "user123", valid_account("loan", id="mine"))
    assert chosen.id == "mine"


def test_a_body_whose_id_is_not_the_urls_is_refused(repository: InMemoryAccountRepository) -> None:
    with pytest.raises(InvalidData) as refused:
        accounts.replace_account(repository, "user123", "acc1", valid_account("credit", id="x"))
    assert refused.value.errors == [("id", "Must be 'acc1', the id in the URL, or left out.")]
    assert accounts.get_account(repository, "user123", "acc1").provider == "Chase"


def test_an_invalid_body_names_each_bad_field(repository: InMemoryAccountRepository) -> None:
    with pytest.raises(InvalidData) as refused:
        accounts.create_account(
            repository, "user123", valid_account("credit", currency="usd", details__apr=101)
        )
    assert [field for field, _ in refused.value.errors] == ["currency", "details.apr"]
    assert str(refused.value) == "Invalid: currency, details.apr."


def test_unconditional_writes_read_nothing_first(counting: CountingReads) -> None:
    accounts.replace_account(counting, "user123", "acc1", valid_account("credit", id="acc1"))
    accounts.patch_account(counting, "user123", "acc1", RENAME)
    accounts.delete_account(counting, "user123", "acc1")
    assert counting.reads == 0


def test_a_precondition_that_no_longer_holds_writes_nothing(counting: CountingReads) -> None:
    before = counting.export()
    never: accounts.Precondition = lambda current: False  # noqa: E731
    with pytest.raises(VersionConflict):
        accounts.replace_account(
            counting, "user123", "acc1", valid_account("loan", id="acc1"), never
        )
    with pytest.raises(VersionConflict):
        accounts.patch_account(counting, "user123", "acc1", RENAME, never)
    with pytest.raises(VersionConflict):
        accounts.delete_account(counting, "user123", "acc1", never)
    assert counting.export() == before


def test_a_precondition_that_holds_lets_the_write_through(counting: CountingReads) -> None:
    seen = accounts.get_account(counting, "user123", "acc1")
    stored = accounts.patch_account(counting, "user123", "acc1", RENAME, seen.__eq__)
    assert stored.account_name == "renamed"


def test_a_patch_merges_details_key_by_key_and_null_removes(
    repository: InMemoryAccountRepository,
) -> None:
    stored = accounts.patch_account(
        repository, "user123", "acc1", {"details": {"apr": Decimal("18.24")}}
    )
    assert isinstance(stored.details, CreditDetails)
    assert (stored.details.apr, stored.details.credit_limit) == (Decimal("18.24"), Decimal(5000))
    with pytest.raises(InvalidData) as refused:
        accounts.patch_account(repository, "user123", "acc1", {"provider": None})
    assert refused.value.errors == [("provider", "Missing data for required field.")]


def test_a_patch_cannot_change_the_type(repository: InMemoryAccountRepository) -> None:
    with pytest.raises(TypeChangeNeedsPut) as refused:
        accounts.patch_account(repository, "user123", "acc1", {"type": "loan"})
    assert refused.value.errors == [("type", "Must stay 'credit' in a PATCH.")]
    assert accounts.get_account(repository, "user123", "acc1").type == AccountType.CREDIT


def test_merge_patch_follows_rfc_7396() -> None:
    # The examples of RFC 7396, appendix A, that apply to objects.
    assert accounts.merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert accounts.merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert accounts.merge_patch({"a": "b"}, {"a": None}) == {}
    assert accounts.merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {
        "a": {"b": "d"}
    }
    assert accounts.merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert accounts.merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}


LOANS = AccountFilter(types=frozenset({AccountType.LOAN}))


def test_cached_list_renders_once_per_revision(repository: InMemoryAccountRepository) -> None:
    cache = ProcessCache(1 << 20)
    rendered: list[list[str]] = []

    def render(found: list[Account]) -> CachedBody:
        rendered.append(ids(found))
        return CachedBody(b"", "tag", len(found))

    for _ in range(3):
        accounts.cached_list(repository, cache, "user123", LOANS, render)
    accounts.patch_account(repository, "user123", "acc2", RENAME)
    accounts.cached_list(repository, cache, "user123", LOANS, render)
    assert rendered == [["acc2"], ["acc2"]]


def synced(repository: InMemoryAccountRepository) -> Account:
    """user123's checking account, as a sync would have stored it."""
    linked = replace(
        accounts.get_account(repository, "user123", "acc3"), connection_id="c1", external_id="x3"
    )
    repository.seed({"user123": [linked]})
    repository.add_connection(
        "user123", Connection("c1", "sandbox", "ins_1", "Bank", "sealed", "i1")
    )
    return linked


def test_only_a_sync_links_an_account(repository: InMemoryAccountRepository) -> None:
    with pytest.raises(ProviderOwned) as refused:
        accounts.create_account(
            repository, "user123", valid_account("loan", id="l9", connectionId="c1")
        )
    assert refused.value.fields == ["connectionId"]
    with pytest.raises(ProviderOwned) as refused:
        accounts.patch_account(repository, "user123", "acc1", {"externalId": "x", "balance": 1})
    assert refused.value.fields == ["externalId"]
    assert accounts.get_account(repository, "user123", "acc1").balance == Decimal("1200.45")
    assert [account.id for account in repository.list_accounts("user123")] == [
        "acc1",
        "acc2",
        "acc3",
    ]


def test_a_synced_account_changes_only_through_its_syncs(
    repository: InMemoryAccountRepository,
) -> None:
    linked = synced(repository)
    with pytest.raises(ProviderOwned) as refused:
        accounts.patch_account(repository, "user123", "acc3", {"balance": 1, "status": "closed"})
    assert refused.value.fields == ["balance", "status"]
    with pytest.raises(ProviderOwned) as refused:
        accounts.patch_account(repository, "user123", "acc3", {"connectionId": None})
    assert refused.value.fields == ["connectionId"]
    as_read = AccountSchema().dump(linked)
    with pytest.raises(ProviderOwned):
        accounts.replace_account(repository, "user123", "acc3", {**as_read, "provider": "Chase"})
    assert accounts.get_account(repository, "user123", "acc3") == linked
    # Sending it back as it is changes nothing the provider owns, so it is no conflict.
    assert accounts.replace_account(repository, "user123", "acc3", as_read) == linked
    with pytest.raises(ProviderOwned) as refused:
        accounts.patch_account(repository, "user123", "acc3", {"subtype": "prepaid", "mask": "99"})
    assert refused.value.fields == ["subtype", "mask"]


def test_the_users_own_fields_change_on_any_account_and_outlive_its_syncs(
    repository: InMemoryAccountRepository,
) -> None:
    linked = synced(repository)
    mine = {"nickname": "Bills", "hidden": True, "includeInNetWorth": False}
    changed = accounts.patch_account(repository, "user123", "acc3", mine)
    assert (changed.nickname, changed.hidden, changed.include_in_net_worth) == (
        "Bills",
        True,
        False,
    )
    # The next sync brings a new balance; the user's choices stay.
    news = replace(linked, id="fresh", balance=Decimal("77.70"))
    repository.apply_sync("user123", "c1", [news])
    after = accounts.get_account(repository, "user123", "acc3")
    assert after.balance == Decimal("77.70")
    assert (after.nickname, after.hidden, after.include_in_net_worth) == ("Bills", True, False)


class WrittenAfterTheCheck(InMemoryAccountRepository):
    """Another client's write lands between a conditional write's check and its write."""

    def get_account(self, user_id: str, account_id: str) -> Account:
        found = super().get_account(user_id, account_id)
        self.modify_account(
            user_id, account_id, lambda current: replace(current, nickname="theirs")
        )
        return found


@pytest.mark.parametrize("write", ["replace", "patch", "delete"])
def test_a_conditional_write_raced_after_its_check_changes_nothing(write: str) -> None:
    store = WrittenAfterTheCheck(load_seed_file(SEED_FILE))

    def agrees(current: Account) -> bool:
        return True  # the check passes: the write that lands after it is what must stop this one

    writes: dict[str, Callable[[], object]] = {
        "replace": lambda: accounts.replace_account(
            store, "user123", "acc1", valid_account("credit", id="acc1", balance=1), agrees
        ),
        "patch": lambda: accounts.patch_account(store, "user123", "acc1", {"balance": 1}, agrees),
        "delete": lambda: accounts.delete_account(store, "user123", "acc1", agrees),
    }
    with pytest.raises(VersionConflict) as refused:
        writes[write]()
    assert str(refused.value) == (
        "Account 'acc1' of user 'user123' has changed since it was read; read it again and retry."
    )
    kept = InMemoryAccountRepository.get_account(store, "user123", "acc1")
    assert (kept.nickname, kept.balance) == ("theirs", Decimal("1200.45"))


def test_refusals_name_the_account(repository: InMemoryAccountRepository) -> None:
    with pytest.raises(TypeChangeNeedsPut) as changed:
        accounts.patch_account(repository, "user123", "acc1", {"type": "loan"})
    assert "'acc1'" in str(changed.value)
    linked = synced(repository)
    with pytest.raises(ProviderOwned) as owned:
        accounts.patch_account(repository, "user123", linked.id, {"balance": 1})
    assert f"'{linked.id}'" in str(owned.value)


def test_a_conditional_write_whose_check_fails_says_which_account(
    repository: InMemoryAccountRepository,
) -> None:
    with pytest.raises(VersionConflict) as refused:
        accounts.patch_account(repository, "user123", "acc1", {"balance": 1}, lambda _: False)
    assert str(refused.value) == (
        "Account 'acc1' of user 'user123' has changed since it was read; read it again and retry."
    )
