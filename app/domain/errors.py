"""The requests the business rules refuse: one class each, which the HTTP layer maps to a status
in one table (app/entrypoints/http/problems.py)."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """A request that the business rules refuse; the HTTP layer maps each subclass to a status."""


class UserNotFound(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"No user with id '{user_id}'.")
        self.user_id = user_id


class AccountNotFound(DomainError):
    def __init__(self, user_id: str, account_id: str) -> None:
        super().__init__(f"User '{user_id}' has no account with id '{account_id}'.")
        self.user_id = user_id
        self.account_id = account_id


class BalanceNotFound(DomainError):
    def __init__(self, account_id: str, day: str) -> None:
        super().__init__(f"Account '{account_id}' has no balance recorded on {day}.")
        self.account_id = account_id


class UserExists(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"A user with id '{user_id}' already exists.")
        self.user_id = user_id


class ConnectionNotFound(DomainError):
    def __init__(self, user_id: str, connection_id: str) -> None:
        super().__init__(f"User '{user_id}' has no connection with id '{connection_id}'.")
        self.user_id = user_id
        self.connection_id = connection_id


class SyncJobNotFound(DomainError):
    def __init__(self, user_id: str, job_id: str) -> None:
        super().__init__(f"User '{user_id}' has no sync job with id '{job_id}'.")
        self.user_id = user_id
        self.job_id = job_id


class AccountExists(DomainError):
    def __init__(self, user_id: str, account_id: str) -> None:
        super().__init__(f"User '{user_id}' already has an account with id '{account_id}'.")
        self.user_id = user_id
        self.account_id = account_id


class VersionConflict(DomainError):
    """The account changed since the version the caller read: its update would overwrite another."""

    def __init__(self, user_id: str, account_id: str) -> None:
        super().__init__(
            f"Account '{account_id}' of user '{user_id}' has changed since it was read; "
            "read it again and retry."
        )
        self.user_id = user_id
        self.account_id = account_id


class UnknownFilterValues(DomainError):
    """A list filter parameter asks for values it does not allow (the first such parameter)."""

    def __init__(self, name: str, unknown: Sequence[str], allowed: Sequence[str]) -> None:
        super().__init__(f"Unknown {name}: {', '.join(map(repr, unknown))}.")
        self.name = name
        self.unknown = tuple(unknown)
        self.allowed = tuple(allowed)


class InvalidData(DomainError):
    """Data the rules refuse; `errors` pairs the path of each bad field (such as `details.apr`,
    or "" for the data as a whole) with what is wrong with it."""

    def __init__(self, errors: list[tuple[str, str]], message: str | None = None) -> None:
        fields = ", ".join(field or "(the body)" for field, _ in errors)
        super().__init__(message or f"Invalid: {fields}.")
        self.errors = errors


class TypeChangeNeedsPut(InvalidData):
    """A patch may not change an account's type: another type has other details, every one of
    which must then be given, which is a replacement."""

    def __init__(self, account_id: str, account_type: str) -> None:
        super().__init__(
            [("type", f"Must stay '{account_type}' in a PATCH.")],
            f"PATCH cannot change the type of account '{account_id}'; "
            "PUT a complete account of the new type instead.",
        )


class ProviderOwned(DomainError):
    """A write that would change what only a sync may change: the link of any account to its
    provider, and everything the provider says about a synced account."""

    def __init__(self, account_id: str, fields: list[str]) -> None:
        super().__init__(
            f"Account '{account_id}': {', '.join(fields)} "
            f"{'is' if len(fields) == 1 else 'are'} set by its provider's syncs, not by a write."
        )
        self.fields = fields


class TooManyAccounts(DomainError):
    """The user holds the most accounts one may: none is added until one is deleted."""

    def __init__(self, user_id: str, limit: int) -> None:
        super().__init__(
            f"User '{user_id}' holds {limit} accounts, the most one may; delete one first."
        )
        self.limit = limit


class StorageUnavailable(DomainError):
    """The store cannot be reached right now; the same request may well succeed in a moment."""

    def __init__(self) -> None:
        super().__init__("The account store is unavailable right now; retry shortly.")


class QueueUnavailable(DomainError):
    """The job queue (the broker) cannot take a job right now; nothing was queued."""

    def __init__(self) -> None:
        super().__init__("The sync queue is unavailable right now; retry shortly.")


class NotMergeable(DomainError):
    """An account added by hand that is not the synced one it was to be merged into."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"These accounts cannot be merged: {reason}")


class AlreadyLinked(DomainError):
    """The login is one of the user's connections already: repaired in place, not linked twice."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(
            f"This login is linked already, as connection '{connection_id}'; if it needs the "
            f"user to log in again, repair that one (POST …/connections/{connection_id}/login)."
        )
        self.connection_id = connection_id


class ConnectionDisconnected(DomainError):
    """The provider says the user revoked the connection: it cannot sync until linked again."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(
            f"Connection '{connection_id}' was disconnected at the provider; link it again."
        )


class LinkRefused(DomainError):
    """The provider refused to link: the credentials, or the institution, are not good."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"The provider refused the link: {code}: {message}")
        self.code = code


class ProviderUnavailable(DomainError):
    """The provider failed in a way that may pass (down, slow, rate limiting)."""

    def __init__(self, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(f"The provider is unavailable right now: {code}: {message}")
        self.code = code
        self.retry_after = retry_after
