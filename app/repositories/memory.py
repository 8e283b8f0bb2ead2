"""The default store: a dict in this process, filled from the seed file at start."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from app.domain import Account, AccountNotFound, AccountType, UserNotFound
from app.repositories.base import AccountRepository


class InMemoryAccountRepository(AccountRepository):
    def __init__(self, users: Mapping[str, Iterable[Account]]) -> None:
        # Per user, accounts keyed by id; dicts keep insertion order, which is the list order.
        self._users: dict[str, dict[str, Account]] = {
            user_id: {account.id: account for account in accounts}
            for user_id, accounts in users.items()
        }

    def _accounts_of(self, user_id: str) -> dict[str, Account]:
        try:
            return self._users[user_id]
        except KeyError:
            raise UserNotFound(user_id) from None

    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        accounts = self._accounts_of(user_id).values()
        if types is None:
            return list(accounts)
        return [account for account in accounts if account.type in types]

    def get_account(self, user_id: str, account_id: str) -> Account:
        try:
            return self._accounts_of(user_id)[account_id]
        except KeyError:
            raise AccountNotFound(user_id, account_id) from None
