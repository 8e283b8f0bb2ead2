"""The one interface every storage backend implements; services depend on nothing else."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection

from app.domain import Account, AccountType


class AccountRepository(ABC):
    @abstractmethod
    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        """The user's accounts in the order they were added, only those of `types` when given.

        Raises UserNotFound for a user the store does not hold.
        """

    @abstractmethod
    def get_account(self, user_id: str, account_id: str) -> Account:
        """Raises UserNotFound or AccountNotFound."""
