"""The default store: dicts in this process, filled from the seed file at start.

Writers take one lock. Readers take none: a user's accounts live in a record that is never
changed once published (a write builds a new one and swaps it in), so a reader sees either the
whole write or none of it, and a revision that matches what it sees.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from app.adapters.storage.memory_history import InMemoryHistory
from app.adapters.storage.memory_rates import InMemoryRates
from app.domain.accounts import DEFAULT_BASE_CURRENCY, Account, AccountStatus, AccountType
from app.domain.connections import UNFINISHED, Connection, ConnectionStatus, SyncJob
from app.domain.errors import (
    AccountExists,
    AccountNotFound,
    AlreadyLinked,
    ConnectionNotFound,
    SyncJobNotFound,
    TooManyAccounts,
    UserExists,
    UserNotFound,
    VersionConflict,
)
from app.domain.history import Point
from app.services.rates import Rate
from app.services.repositories import (
    KeyClaim,
    KeyState,
    RecordedAnswer,
    Store,
    SyncOutcome,
    new_revision,
)


class _User(NamedTuple):
    revision: int
    accounts: dict[str, Account]
    base_currency: str = DEFAULT_BASE_CURRENCY


@dataclass
class _Key:
    fingerprint: str
    holder: str
    expires_at: datetime
    lease_until: datetime | None
    answer: RecordedAnswer | None = None


class InMemoryAccountRepository(Store):
    def __init__(
        self, users: Mapping[str, Sequence[Account]], rates: InMemoryRates | None = None
    ) -> None:
        self._lock = threading.Lock()
        # Versions come from one counter, so no version is ever given out twice.
        self._versions = itertools.count(1)
        self._users: dict[str, _User] = {}
        self._rates = rates or InMemoryRates()
        self._history = InMemoryHistory()
        # user id -> connection id -> connection, and user id -> job id -> job; a user's go with
        # the user.
        self._connections: dict[str, dict[str, Connection]] = {}
        self._jobs: dict[str, dict[str, SyncJob]] = {}
        # webhook delivery key -> until when it is remembered
        self._deliveries: dict[str, datetime] = {}
        # (owner, key) -> the key's record
        self._keys: dict[tuple[str, str], _Key] = {}
        self.replace_all(users)

    def _user(self, user_id: str) -> _User:
        try:
            return self._users[user_id]
        except KeyError:
            raise UserNotFound(user_id) from None

    def _accounts_of(self, user_id: str) -> dict[str, Account]:
        return self._user(user_id).accounts

    def _publish(self, user_id: str, accounts: dict[str, Account]) -> None:
        before = self._users.get(user_id)
        base = before.base_currency if before else DEFAULT_BASE_CURRENCY
        self._history.changed(user_id, before.accounts if before else {}, accounts)
        self._users[user_id] = _User(new_revision(), accounts, base)

    def _stored(self, user_id: str, account_id: str) -> Account:
        try:
            return self._accounts_of(user_id)[account_id]
        except KeyError:
            raise AccountNotFound(user_id, account_id) from None

    def _checked(self, user_id: str, account_id: str, expected_version: int | None) -> Account:
        stored = self._stored(user_id, account_id)
        if expected_version is not None and stored.version != expected_version:
            raise VersionConflict(user_id, account_id)
        return stored

    def _versioned(self, account: Account) -> Account:
        return replace(account, version=next(self._versions))

    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        accounts = self._accounts_of(user_id).values()
        if types is None:
            return list(accounts)
        return [account for account in accounts if account.type in types]

    def get_account(self, user_id: str, account_id: str) -> Account:
        return self._stored(user_id, account_id)

    def user_revision(self, user_id: str) -> int:
        return self._user(user_id).revision

    def balance_history(
        self, user_id: str, start: date, end: date, account_id: str | None = None
    ) -> dict[str, list[Point]]:
        with self._lock:
            return self._history.points(user_id, start, end, account_id)

    def set_balance(self, user_id: str, account_id: str, day: date, balance: Decimal) -> None:
        with self._lock:
            self._stored(user_id, account_id)
            self._history.set(user_id, account_id, day, balance)

    def delete_balance(self, user_id: str, account_id: str, day: date) -> bool:
        with self._lock:
            self._stored(user_id, account_id)
            return self._history.delete(user_id, account_id, day)

    def store_rates(self, rates: Iterable[Rate]) -> int:
        return self._rates.store_rates(rates)

    def rates_between(self, currencies: Collection[str], start: date, end: date) -> list[Rate]:
        return self._rates.rates_between(currencies, start, end)

    def base_currency(self, user_id: str) -> str:
        return self._user(user_id).base_currency

    def set_base_currency(self, user_id: str, currency: str) -> None:
        with self._lock:
            user = self._user(user_id)
            self._users[user_id] = _User(new_revision(), user.accounts, currency)

    def list_users(self, after: str | None, limit: int) -> list[str]:
        later = (user_id for user_id in sorted(self._users) if after is None or user_id > after)
        return list(itertools.islice(later, limit))

    def add_user(self, user_id: str) -> None:
        with self._lock:
            if user_id in self._users:
                raise UserExists(user_id)
            self._publish(user_id, {})

    def delete_user(self, user_id: str) -> None:
        with self._lock:
            if self._users.pop(user_id, None) is None:
                raise UserNotFound(user_id)
            self._history.forget(user_id)
            self._connections.pop(user_id, None)
            self._jobs.pop(user_id, None)

    def add_account(self, user_id: str, account: Account, limit: int | None = None) -> Account:
        with self._lock:
            accounts = self._accounts_of(user_id)
            if account.id in accounts:
                raise AccountExists(user_id, account.id)
            if limit is not None and len(accounts) >= limit:
                raise TooManyAccounts(user_id, limit)
            stored = self._versioned(account)
            self._publish(user_id, {**accounts, account.id: stored})
            return stored

    def modify_account(
        self,
        user_id: str,
        account_id: str,
        change: Callable[[Account], Account],
        expected_version: int | None = None,
    ) -> Account:
        with self._lock:
            stored = self._versioned(change(self._checked(user_id, account_id, expected_version)))
            self._publish(user_id, {**self._accounts_of(user_id), account_id: stored})
            return stored

    def merge_account(
        self,
        user_id: str,
        into_id: str,
        taken_id: str,
        merged: Callable[[Account, Account], Account],
    ) -> Account:
        with self._lock:
            into = self._stored(user_id, into_id)
            stored = self._versioned(merged(into, self._stored(user_id, taken_id)))
            self._history.merge(user_id, taken_id, into_id)
            kept = dict(self._accounts_of(user_id))
            del kept[taken_id]
            self._publish(user_id, {**kept, into_id: stored})
            return stored

    def apply_sync(
        self,
        user_id: str,
        connection_id: str,
        accounts: Sequence[Account],
        limit: int | None = None,
    ) -> SyncOutcome:
        with self._lock:
            stored = dict(self._accounts_of(user_id))
            self._connection(user_id, connection_id)  # deleted meanwhile: nothing to store
            linked = {
                account.external_id: account
                for account in stored.values()
                if account.connection_id == connection_id
            }
            added = updated = closed = 0
            for account in accounts:
                known = linked.pop(account.external_id, None)
                if known is None:
                    stored[account.id] = self._versioned(account)
                    added += 1
                elif known.resynced(account) != known:
                    stored[known.id] = self._versioned(known.resynced(account))
                    updated += 1
            for gone in linked.values():
                if gone.status is not AccountStatus.CLOSED:
                    stored[gone.id] = self._versioned(replace(gone, status=AccountStatus.CLOSED))
                    closed += 1
            if limit is not None and added and len(stored) > limit:
                raise TooManyAccounts(user_id, limit)
            if added or updated or closed:
                self._publish(user_id, stored)
            return SyncOutcome(added, updated, closed)

    def delete_account(
        self, user_id: str, account_id: str, expected_version: int | None = None
    ) -> None:
        with self._lock:
            self._checked(user_id, account_id, expected_version)
            accounts = dict(self._accounts_of(user_id))
            del accounts[account_id]
            self._publish(user_id, accounts)

    def _connections_of(self, user_id: str) -> dict[str, Connection]:
        self._user(user_id)
        return self._connections.setdefault(user_id, {})

    def _connection(self, user_id: str, connection_id: str) -> Connection:
        try:
            return self._connections_of(user_id)[connection_id]
        except KeyError:
            raise ConnectionNotFound(user_id, connection_id) from None

    def add_connection(self, user_id: str, connection: Connection) -> Connection:
        login = (connection.provider, connection.institution_id, connection.fingerprint)
        with self._lock:
            for other in self._connections_of(user_id).values():
                same = (other.provider, other.institution_id, other.fingerprint) == login
                if same and connection.fingerprint is not None:
                    raise AlreadyLinked(other.id)
            stored = self._versioned_connection(connection)
            self._connections_of(user_id)[connection.id] = stored
            return stored

    def get_connection(self, user_id: str, connection_id: str) -> Connection:
        with self._lock:
            return self._connection(user_id, connection_id)

    def list_connections(self, user_id: str) -> list[Connection]:
        with self._lock:
            return list(self._connections_of(user_id).values())

    def find_connection(self, provider: str, item_id: str) -> tuple[str, Connection] | None:
        with self._lock:
            for user_id, connections in self._connections.items():
                for connection in connections.values():
                    if (connection.provider, connection.item_id) == (provider, item_id):
                        return user_id, connection
        return None

    def due_connections(self, now: datetime, limit: int) -> list[tuple[str, Connection]]:
        with self._lock:
            due = [
                (connection.next_sync_at, user_id, connection)
                for user_id, connections in self._connections.items()
                for connection in connections.values()
                if connection.next_sync_at is not None and connection.next_sync_at <= now
            ]
        due.sort(key=lambda entry: entry[0] or now)
        return [(user_id, connection) for _, user_id, connection in due[:limit]]

    def count_stale(self, synced_before: datetime) -> int:
        with self._lock:
            return sum(
                1
                for connections in self._connections.values()
                for connection in connections.values()
                if connection.status is not ConnectionStatus.DISCONNECTED
                and connection.last_successful_sync is not None
                and connection.last_successful_sync < synced_before
            )

    def modify_connection(
        self, user_id: str, connection_id: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        with self._lock:
            stored = self._versioned_connection(change(self._connection(user_id, connection_id)))
            self._connections_of(user_id)[connection_id] = stored
            return stored

    def delete_connection(self, user_id: str, connection_id: str) -> int:
        with self._lock:
            self._connection(user_id, connection_id)
            del self._connections_of(user_id)[connection_id]
            jobs = self._jobs.get(user_id, {})
            for job_id in [key for key, job in jobs.items() if job.connection_id == connection_id]:
                del jobs[job_id]
            accounts = self._accounts_of(user_id)
            kept = {
                key: account
                for key, account in accounts.items()
                if account.connection_id != connection_id
            }
            self._publish(user_id, kept)
            return len(accounts) - len(kept)

    def open_job(self, user_id: str, job: SyncJob) -> tuple[SyncJob, bool]:
        with self._lock:
            self._connection(user_id, job.connection_id)
            jobs = self._jobs.setdefault(user_id, {})
            for existing in jobs.values():
                if existing.connection_id == job.connection_id and existing.status in UNFINISHED:
                    return existing, False
            stored = replace(job, version=next(self._versions))
            jobs[job.id] = stored
            return stored, True

    def _job(self, user_id: str, job_id: str) -> SyncJob:
        self._user(user_id)
        try:
            return self._jobs.get(user_id, {})[job_id]
        except KeyError:
            raise SyncJobNotFound(user_id, job_id) from None

    def get_job(self, user_id: str, job_id: str) -> SyncJob:
        with self._lock:
            return self._job(user_id, job_id)

    def modify_job(
        self, user_id: str, job_id: str, change: Callable[[SyncJob], SyncJob]
    ) -> SyncJob:
        with self._lock:
            stored = replace(change(self._job(user_id, job_id)), version=next(self._versions))
            self._jobs[user_id][job_id] = stored
            return stored

    def _versioned_connection(self, connection: Connection) -> Connection:
        return replace(connection, version=next(self._versions))

    def _forget_expired(self, now: datetime) -> int:
        deliveries = [known for known, until in self._deliveries.items() if until <= now]
        keys = [name for name, kept in self._keys.items() if kept.expires_at <= now]
        for delivery in deliveries:
            del self._deliveries[delivery]
        for name in keys:
            del self._keys[name]
        return len(deliveries) + len(keys)

    def prune(self, now: datetime, jobs_finished_before: datetime, limit: int) -> int:
        with self._lock:
            old = [
                (user_id, job_id)
                for user_id, jobs in self._jobs.items()
                for job_id in _outlived(jobs.values(), jobs_finished_before)
            ][:limit]
            for user_id, job_id in old:
                del self._jobs[user_id][job_id]
            return self._forget_expired(now) + len(old)

    def first_delivery(self, key: str, now: datetime, keep_until: datetime) -> bool:
        with self._lock:
            self._forget_expired(now)
            if key in self._deliveries:
                return False
            self._deliveries[key] = keep_until
            return True

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
        with self._lock:
            self._forget_expired(now)
            kept = self._keys.get((owner, key))
            if kept is None:
                self._keys[owner, key] = _Key(fingerprint, holder, expires_at, lease_until)
                return KeyClaim(KeyState.NEW)
            if kept.fingerprint != fingerprint:
                return KeyClaim(KeyState.MISMATCH)
            if kept.answer is not None:
                return KeyClaim(KeyState.DONE, kept.answer)
            if kept.lease_until is not None and kept.lease_until > now:
                return KeyClaim(KeyState.IN_PROGRESS)
            kept.lease_until, kept.holder = lease_until, holder
            return KeyClaim(KeyState.NEW)

    def complete_key(self, owner: str, key: str, holder: str, answer: RecordedAnswer) -> bool:
        with self._lock:
            kept = self._keys.get((owner, key))
            if kept is None or kept.holder != holder or kept.answer is not None:
                return False
            kept.answer, kept.lease_until = answer, None
            return True

    def release_key(self, owner: str, key: str, holder: str) -> None:
        with self._lock:
            kept = self._keys.get((owner, key))
            if kept is not None and kept.holder == holder:
                del self._keys[owner, key]

    def is_empty(self) -> bool:
        return not self._users

    def seed(self, users: Mapping[str, Sequence[Account]]) -> int:
        changed = 0
        with self._lock:
            for user_id, accounts in users.items():
                user = self._users.get(user_id)
                stored = {} if user is None else user.accounts
                fresh = {
                    account.id: self._versioned(account)
                    for account in accounts
                    if stored.get(account.id) != account
                }
                changed += len(fresh) + (1 if user is None else 0)
                if user is None or fresh:
                    self._publish(user_id, {**stored, **fresh})
        return changed

    def export(self) -> dict[str, list[Account]]:
        with self._lock:
            return {user_id: list(user.accounts.values()) for user_id, user in self._users.items()}

    def replace_all(self, users: Mapping[str, Sequence[Account]]) -> None:
        fresh = {
            user_id: _User(
                new_revision(),
                {account.id: self._versioned(account) for account in accounts},
            )
            for user_id, accounts in users.items()
        }
        with self._lock:
            self._users = fresh
            self._history.forget()
            for user_id, user in fresh.items():
                self._history.changed(user_id, {}, user.accounts)
            self._connections = {}
            self._jobs = {}


def _outlived(jobs: Collection[SyncJob], finished_before: datetime) -> list[str]:
    """The ids of the jobs finished before `finished_before` that are not their connection's
    latest."""
    latest: dict[str, datetime] = {}
    for job in jobs:
        latest[job.connection_id] = max(
            job.created_at, latest.get(job.connection_id, job.created_at)
        )
    return [
        job.id
        for job in jobs
        if job.finished_at is not None
        and job.finished_at < finished_before
        and job.created_at < latest[job.connection_id]
    ]
