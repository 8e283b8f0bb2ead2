"""Rows of the SQL store's tables, to and from the domain's accounts, connections and jobs."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from typing import Any, get_args, get_type_hints

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    func,
    select,
    update,
)

from app.adapters.storage.tables import (
    accounts,
    users,
)
from app.domain.accounts import DETAILS_CLASSES, Account, AccountStatus, AccountType
from app.domain.connections import (
    Connection,
    ConnectionStatus,
    JobStatus,
    SyncFailure,
    SyncJob,
)
from app.services.repositories import new_revision

# What an account holds, as against where it is (user_id, id) and its history (version, pk).
CONTENT_COLUMNS = [
    "type",
    "provider",
    "account_name",
    "balance",
    "currency",
    "details",
    "status",
    "balance_as_of",
    "connection_id",
    "external_id",
    "subtype",
    "mask",
    "official_name",
    "nickname",
    "available_balance",
    "hidden",
    "include_in_net_worth",
]


ACCOUNT_COLUMNS = [
    accounts.c.id,
    accounts.c.type,
    accounts.c.provider,
    accounts.c.account_name,
    accounts.c.balance,
    accounts.c.currency,
    accounts.c.details,
    accounts.c.status,
    accounts.c.balance_as_of,
    accounts.c.connection_id,
    accounts.c.external_id,
    accounts.c.subtype,
    accounts.c.mask,
    accounts.c.official_name,
    accounts.c.nickname,
    accounts.c.available_balance,
    accounts.c.hidden,
    accounts.c.include_in_net_worth,
    accounts.c.version,
]


# The details column holds each details dataclass's own fields, by name. Reading one back turns
# each JSON value into the field's type: no validation, since every account was validated on its
# way in, and reading is what the busiest route does for every account it lists.
_FROM_JSON: dict[Any, Callable[[Any], Any]] = {
    Decimal: lambda value: value if isinstance(value, Decimal) else Decimal(value),
    date: date.fromisoformat,
    int: int,
    bool: bool,
    str: str,
}


_DETAILS_READERS = {
    account_type: (
        details_class,
        [
            # Each detail is `<type> | None`: read by its type, None as it is.
            (name, _FROM_JSON[get_args(kind)[0]])
            for name, kind in get_type_hints(details_class).items()
            if name != "account_type"
        ],
    )
    for account_type, details_class in DETAILS_CLASSES.items()
}


# Built once: the busiest route reads a revision for every request.
REVISION = select(users.c.revision).where(users.c.id == bindparam("user_id"))


def _failure_columns(error: SyncFailure | None) -> dict[str, str | None]:
    """A sync failure as the error_code and error_message columns (connections, sync jobs)."""
    return {
        "error_code": error.code if error else None,
        "error_message": error.message if error else None,
    }


def _failure(row: Row[Any]) -> SyncFailure | None:
    return SyncFailure(row.error_code, row.error_message or "") if row.error_code else None


def connection_row(user_id: str, connection: Connection) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": connection.id,
        "provider": connection.provider,
        "institution_id": connection.institution_id,
        "institution_name": connection.institution_name,
        "sealed_token": connection.sealed_token,
        "status": str(connection.status),
        "last_successful_sync": connection.last_successful_sync,
        "last_failed_sync": connection.last_failed_sync,
        **_failure_columns(connection.error),
        "version": connection.version,
        "item_id": connection.item_id,
        "next_sync_at": connection.next_sync_at,
        "consent_expires_at": connection.consent_expires_at,
        "new_accounts_available": connection.new_accounts_available,
        "fingerprint": connection.fingerprint,
    }


def connection_from(row: Row[Any]) -> Connection:
    return Connection(
        id=row.id,
        provider=row.provider,
        institution_id=row.institution_id,
        institution_name=row.institution_name,
        sealed_token=row.sealed_token,
        status=ConnectionStatus(row.status),
        last_successful_sync=row.last_successful_sync,
        last_failed_sync=row.last_failed_sync,
        error=_failure(row),
        item_id=row.item_id,
        next_sync_at=row.next_sync_at,
        consent_expires_at=row.consent_expires_at,
        new_accounts_available=row.new_accounts_available,
        fingerprint=row.fingerprint,
        version=row.version,
    )


def job_row(user_id: str, job: SyncJob) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": job.id,
        "connection_id": job.connection_id,
        "status": str(job.status),
        "accounts_added": job.accounts_added,
        "accounts_updated": job.accounts_updated,
        "accounts_closed": job.accounts_closed,
        **_failure_columns(job.error),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "version": job.version,
        "attempts": job.attempts,
        "lease_until": job.lease_until,
        "again": job.again,
    }


def job_from(row: Row[Any]) -> SyncJob:
    return SyncJob(
        id=row.id,
        connection_id=row.connection_id,
        created_at=row.created_at,
        status=JobStatus(row.status),
        accounts_added=row.accounts_added,
        accounts_updated=row.accounts_updated,
        accounts_closed=row.accounts_closed,
        error=_failure(row),
        finished_at=row.finished_at,
        attempts=row.attempts,
        lease_until=row.lease_until,
        again=row.again,
        version=row.version,
    )


def account_row(user_id: str, account: Account) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "id": account.id,
        "type": str(account.type),
        "provider": account.provider,
        "account_name": account.account_name,
        "balance": account.balance,
        "currency": account.currency,
        "details": {
            field.name: getattr(account.details, field.name) for field in fields(account.details)
        },
        "status": str(account.status),
        "balance_as_of": account.balance_as_of,
        "connection_id": account.connection_id,
        "external_id": account.external_id,
        "subtype": account.subtype,
        "mask": account.mask,
        "official_name": account.official_name,
        "nickname": account.nickname,
        "available_balance": account.available_balance,
        "hidden": account.hidden,
        "include_in_net_worth": account.include_in_net_worth,
        "version": account.version,
    }


def new_rows(
    users_accounts: Mapping[str, Sequence[Account]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for these users (each with a fresh revision) and their accounts (at version 1)."""
    user_rows = [{"id": user_id, "revision": new_revision()} for user_id in users_accounts]
    account_rows = [
        account_row(user_id, replace(account, version=1))
        for user_id, user_accounts in users_accounts.items()
        for account in user_accounts
    ]
    return user_rows, account_rows


def rewrite(user_id: str, account: Account, where: list[ColumnElement[bool]]) -> Update:
    """Overwrite the matching row with `account`, with the next version; returns that version."""
    values = account_row(user_id, account)
    del values["version"]
    return (
        update(accounts)
        .where(*where)
        .values(**values, version=accounts.c.version + 1, last_updated=func.now())
        .returning(accounts.c.version)
    )


def _list_statement(filtered: bool, with_revision: bool) -> Select[Any]:
    joined = accounts.c.user_id == users.c.id
    if filtered:
        joined = and_(joined, accounts.c.type.in_(bindparam("types", expanding=True)))
    columns = [*ACCOUNT_COLUMNS, users.c.revision] if with_revision else ACCOUNT_COLUMNS
    return (
        select(*columns)
        .select_from(users.outerjoin(accounts, joined))
        .where(users.c.id == bindparam("user_id"))
        .order_by(accounts.c.pk)
    )


# Built once: building a statement cost a cold miss more than SQLAlchemy's cached compile of it.
_LIST_STATEMENTS = {
    (filtered, with_revision): _list_statement(filtered, with_revision)
    for filtered in (False, True)
    for with_revision in (False, True)
}


def list_query(
    user_id: str, types: Collection[AccountType] | None = None, *, with_revision: bool = False
) -> tuple[Select[Any], dict[str, Any]]:
    """A user's accounts in list order, and one row with no account when the user has none:
    one round trip answers both "does the user exist" and "which accounts". With the user's
    revision on each row, `with_revision`: the list and the revision it is as of, at once.
    The statement and its parameters, for `execute`."""
    parameters: dict[str, Any] = {"user_id": user_id}
    if types is not None:
        parameters["types"] = [str(kind) for kind in types]
    return _LIST_STATEMENTS[types is not None, with_revision], parameters


def account_from(row: Row[Any]) -> Account:
    details_class, readers = _DETAILS_READERS[AccountType(row.type)]
    return Account(
        id=row.id,
        provider=row.provider,
        account_name=row.account_name,
        balance=row.balance,
        currency=row.currency,
        details=details_class(
            **{
                # A detail added since the row was written is not in it: unknown.
                name: None if (said := row.details.get(name)) is None else read(said)
                for name, read in readers
            }
        ),
        status=AccountStatus(row.status),
        balance_as_of=row.balance_as_of,
        connection_id=row.connection_id,
        external_id=row.external_id,
        subtype=row.subtype,
        mask=row.mask,
        official_name=row.official_name,
        nickname=row.nickname,
        available_balance=row.available_balance,
        hidden=row.hidden,
        include_in_net_worth=row.include_in_net_worth,
        version=row.version,
    )
