"""The storage interfaces every backend implements: the domain's operations on users and their
accounts (what services use), and apart from them, what is done to a whole store at once (probe,
seed, export, replace: start-up, fixtures and operators)."""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from app.domain.accounts import Account, AccountType
from app.domain.connections import Connection, SyncJob
from app.domain.history import Point
from app.services.rates import RateStore


def new_revision() -> int:
    """A user revision: random, not counted, so that it never comes back, not after the user is
    deleted and created again, nor after a restart of an in-memory store whose lists are still
    cached in Redis. 63 bits: two equal ones will not happen."""
    return secrets.randbits(63)


class Listing(NamedTuple):
    revision: int
    #: The accounts as of `revision`, when they came with it at no extra cost; else None.
    accounts: list[Account] | None


@dataclass(frozen=True)
class SyncOutcome:
    added: int
    updated: int
    closed: int


class BalanceHistory(ABC):
    """Each account's balance by day (app/services/history.py): every store keeps it."""

    @abstractmethod
    def balance_history(
        self, user_id: str, start: date, end: date, account_id: str | None = None
    ) -> dict[str, list[Point]]:
        """By account of the user's (only `account_id` when given): the balance last recorded
        on or before `start`, then each recorded after it up to `end`, oldest first. Accounts
        with none are left out, as are unknown users and accounts."""

    @abstractmethod
    def set_balance(self, user_id: str, account_id: str, day: date, balance: Decimal) -> None:
        """Records `balance` as the account's on `day`, replacing that day's. Raises
        UserNotFound or AccountNotFound."""

    @abstractmethod
    def delete_balance(self, user_id: str, account_id: str, day: date) -> bool:
        """Removes the balance recorded on `day`; False when there was none. Raises
        UserNotFound or AccountNotFound."""


class AccountRepository(BalanceHistory, ABC):
    """Users and their accounts. Every write is all-or-nothing, and safe from concurrent callers.

    Accounts handed in come back with a fresh `version`; a write that names an
    `expected_version` only happens if the stored account still has it (else VersionConflict).
    """

    @abstractmethod
    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        """The user's accounts in the order they were added, only those of `types` when given.

        Raises UserNotFound.
        """

    @abstractmethod
    def get_account(self, user_id: str, account_id: str) -> Account:
        """Raises UserNotFound or AccountNotFound."""

    @abstractmethod
    def user_revision(self, user_id: str) -> int:
        """A number that changes with every write to the user or their accounts, and never comes
        back, not even after the user is deleted and created again. Raises UserNotFound.

        It changes in the same transaction as the write: read it before the accounts, and those
        accounts are at least as new as the revision says.
        """

    def listing(self, user_id: str, types: Collection[AccountType] | None = None) -> Listing:
        """The user's revision and, where the store had to be asked for it anyway, the accounts
        `list_accounts(user_id, types)` would give, read with it in one go (a cold miss's
        round trip saved). Raises UserNotFound."""
        return Listing(self.user_revision(user_id), None)

    @abstractmethod
    def base_currency(self, user_id: str) -> str:
        """The currency the user's totals are converted into. Raises UserNotFound."""

    @abstractmethod
    def set_base_currency(self, user_id: str, currency: str) -> None:
        """Changes it, and the user's revision with it, as every write to the user does.
        Raises UserNotFound."""

    @abstractmethod
    def list_users(self, after: str | None, limit: int) -> list[str]:
        """Up to `limit` user ids in id order, those after `after` (None: from the first)."""

    @abstractmethod
    def add_user(self, user_id: str) -> None:
        """Raises UserExists."""

    @abstractmethod
    def delete_user(self, user_id: str) -> None:
        """Removes the user and all of their accounts. Raises UserNotFound."""

    @abstractmethod
    def add_account(self, user_id: str, account: Account, limit: int | None = None) -> Account:
        """Appends the account to the user's list, unless they hold `limit` accounts already.

        Raises UserNotFound, AccountExists or TooManyAccounts.
        """

    @abstractmethod
    def modify_account(
        self,
        user_id: str,
        account_id: str,
        change: Callable[[Account], Account],
        expected_version: int | None = None,
    ) -> Account:
        """Stores `change(current account)`, with no other write to it in between.

        Concurrent callers queue rather than fail, so none of them loses its change and none has
        to retry. `change` must not change the id. Raises UserNotFound, AccountNotFound,
        VersionConflict, or whatever `change` raises, in which case nothing is written.
        """

    @abstractmethod
    def merge_account(
        self,
        user_id: str,
        into_id: str,
        taken_id: str,
        merged: Callable[[Account, Account], Account],
    ) -> Account:
        """At once: the account `into_id` becomes `merged(it, taken)`, takes the history of
        `taken_id` for the days it has none of its own, and `taken_id` is deleted. Raises
        UserNotFound or AccountNotFound, or what `merged` raises (and then nothing changes)."""

    @abstractmethod
    def apply_sync(
        self,
        user_id: str,
        connection_id: str,
        accounts: Sequence[Account],
        limit: int | None = None,
    ) -> SyncOutcome:
        """Makes the user's accounts of `connection_id` what `accounts` (all linked to it) say,
        in one write: each is matched by its external id; a new one is appended under its own id,
        a known one keeps its id, place and history and takes the new content; one no longer
        among them is closed, never deleted. A second call with the same accounts changes
        nothing, and the revision changes only when something did. Raises UserNotFound or
        ConnectionNotFound (the user or the connection is gone, deleted before this write or
        while the provider was asked), or TooManyAccounts (writing nothing) when the user would
        hold more than `limit` accounts. Deletes of the connection or the user never interleave
        with it: what they removed stays removed.
        """

    @abstractmethod
    def delete_account(
        self, user_id: str, account_id: str, expected_version: int | None = None
    ) -> None:
        """Raises UserNotFound, AccountNotFound or VersionConflict."""


class ConnectionRepository(ABC):
    """Users' provider connections. Writes are all-or-nothing and safe from concurrent callers."""

    @abstractmethod
    def add_connection(self, user_id: str, connection: Connection) -> Connection:
        """Raises UserNotFound, or AlreadyLinked when another of the user's connections has the
        same provider, institution and fingerprint (one that is None is like no other)."""

    @abstractmethod
    def get_connection(self, user_id: str, connection_id: str) -> Connection:
        """Raises UserNotFound or ConnectionNotFound."""

    @abstractmethod
    def list_connections(self, user_id: str) -> list[Connection]:
        """The user's connections in the order they were linked. Raises UserNotFound."""

    @abstractmethod
    def find_connection(self, provider: str, item_id: str) -> tuple[str, Connection] | None:
        """The user and the connection that the provider's item is linked as; None when none
        is (it was never linked here, or it was deleted)."""

    @abstractmethod
    def due_connections(self, now: datetime, limit: int) -> list[tuple[str, Connection]]:
        """Up to `limit` connections, of any user, whose next sync is due at `now`, the longest
        overdue first, each with its user."""

    @abstractmethod
    def count_stale(self, synced_before: datetime) -> int:
        """How many connections, not disconnected, last synced well before `synced_before`."""

    @abstractmethod
    def modify_connection(
        self, user_id: str, connection_id: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        """Stores `change(current)`, with no other write to it in between (like
        modify_account). Raises UserNotFound or ConnectionNotFound."""

    @abstractmethod
    def delete_connection(self, user_id: str, connection_id: str) -> int:
        """Removes the connection, its sync jobs and every account synced from it, in one write;
        returns how many accounts went with it. Raises UserNotFound or ConnectionNotFound."""

    @abstractmethod
    def open_job(self, user_id: str, job: SyncJob) -> tuple[SyncJob, bool]:
        """The job of `job.connection_id` still queued or running, and False; or, when there is
        none, `job` stored, and True. Never two unfinished jobs for one connection, however many
        callers ask at once. Raises UserNotFound or ConnectionNotFound."""

    @abstractmethod
    def get_job(self, user_id: str, job_id: str) -> SyncJob:
        """Raises UserNotFound or SyncJobNotFound."""

    @abstractmethod
    def modify_job(
        self, user_id: str, job_id: str, change: Callable[[SyncJob], SyncJob]
    ) -> SyncJob:
        """Stores `change(current)`, with no other write to it in between. Raises UserNotFound
        or SyncJobNotFound."""


class DeliveryLog(ABC):
    """Deliveries (of webhooks) already acted on, so that the same one twice is recognised."""

    @abstractmethod
    def first_delivery(self, key: str, now: datetime, keep_until: datetime) -> bool:
        """True, and `key` remembered until `keep_until`, when it is not remembered at `now`;
        False otherwise. Of callers racing with one key, exactly one is told True."""


@dataclass(frozen=True)
class RecordedAnswer:
    """An HTTP answer as it was first given, to give again to a retry."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


class KeyState(StrEnum):
    #: Nobody used the key (or it expired, or its first request died): the caller runs the
    #: request, then completes or releases the key.
    NEW = "new"
    #: A request with the key is running right now.
    IN_PROGRESS = "in_progress"
    #: The request ran: here is its answer.
    DONE = "done"
    #: The key was used with another request.
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class KeyClaim:
    state: KeyState
    answer: RecordedAnswer | None = None


class IdempotencyKeys(ABC):
    """Idempotency keys, per owner (a user), with the request each was first used for.

    A request that claims a key holds it under a `holder` name of its own until it records its
    answer (inside the unit of work that makes its effect: app/services/unit.py) or lets go;
    only the holder can do either, so a request overtaken by a retry changes nothing.
    """

    @abstractmethod
    def claim_key(
        self,
        owner: str,
        key: str,
        fingerprint: str,
        holder: str,
        now: datetime,
        lease_until: datetime,
        expires_at: datetime,
    ) -> KeyClaim:
        """What `key` stands for at `now`. NEW when it is free: it is then held by `holder`, for
        the request `fingerprint` names, until `lease_until` (a request that died lets it go
        then), and kept until `expires_at`. Of callers racing with one key, exactly one gets
        NEW."""

    @abstractmethod
    def complete_key(self, owner: str, key: str, holder: str, answer: RecordedAnswer) -> bool:
        """Records the answer, if `holder` still holds the key; says whether it did."""

    @abstractmethod
    def release_key(self, owner: str, key: str, holder: str) -> None:
        """Forgets the key, answer and all, if `holder` held it: its request did not finish,
        or its answer is not one to give again, and it may be tried again."""


class StoreAdministration(ABC):
    """The whole store at once: for start-up, fixture mode and operators, never for one request
    about one user's accounts."""

    def close(self) -> None:  # noqa: B027 (most stores hold nothing to release)
        """Releases connections; a store used again afterwards reconnects."""

    def ping(self) -> None:  # noqa: B027 (a store in this process's memory is always there)
        """Raises StorageUnavailable unless the store answers."""

    @abstractmethod
    def is_empty(self) -> bool:
        """True when the store holds no user at all."""

    @abstractmethod
    def seed(self, users: Mapping[str, Sequence[Account]]) -> int:
        """Adds the users and accounts that are missing and rewrites the accounts that differ.

        Nothing else is touched, so seeding the same data twice changes nothing the second time.
        Returns how many users and accounts it added or changed.
        """

    @abstractmethod
    def export(self) -> dict[str, list[Account]]:
        """Every user with their accounts in the order they were added, as one snapshot."""

    @abstractmethod
    def replace_all(self, users: Mapping[str, Sequence[Account]]) -> None:
        """Replaces everything stored with `users`, at once."""

    @abstractmethod
    def prune(self, now: datetime, jobs_finished_before: datetime, limit: int) -> int:
        """Removes at most `limit` rows of each kind that have outlived their use: idempotency
        keys and webhook deliveries past their expiry, and sync jobs finished before
        `jobs_finished_before` (never a connection's latest). Returns how many it removed: none
        while another process prunes the same database."""

    def make_history_months(self, since: date, through: date) -> list[str]:
        """Where balance history is kept by month (PostgreSQL), makes room for the months from
        `since`'s through `through`'s; the names of what it made. Elsewhere nothing to do."""
        return []


class Store(
    AccountRepository,
    ConnectionRepository,
    DeliveryLog,
    IdempotencyKeys,
    RateStore,
    StoreAdministration,
    ABC,
):
    """A storage backend: every interface, over the same data."""
