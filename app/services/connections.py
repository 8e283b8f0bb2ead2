"""Linking a user's bank login through a provider, and syncing a connection's accounts.

The access token a provider gives at link time is the only credential kept, sealed (app/sealing.py);
the credentials the user linked with are handed to the provider and forgotten. Whether a failed
sync is tried again is the job runner's business; here each attempt records what happened, so
that a connection always shows its status honestly: `syncing` while attempts go on,
`login_required` when only the user can help, `error` once the runner gives up, `healthy` after a
sync that went through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from app.domain import Connection, ConnectionStatus, SyncFailure
from app.providers.base import LoginRequired, ProviderAdapter, ProviderError
from app.repositories.base import AccountRepository, ConnectionRepository, SyncOutcome
from app.sealing import TokenSeal
from app.services.accounts import new_id
from app.services.sync import store_sync


def link(
    connections: ConnectionRepository,
    provider: ProviderAdapter,
    seal: TokenSeal,
    user_id: str,
    provider_name: str,
    credentials: Mapping[str, str],
) -> Connection:
    """Exchanges the credentials for an access token and keeps the connection, `syncing` until
    its first sync. Raises ProviderError (nothing kept) or UserNotFound."""
    item = provider.exchange(credentials)
    connection = Connection(
        id=new_id("conn"),
        provider=provider_name,
        institution_id=item.institution_id,
        institution_name=item.institution_name,
        sealed_token=seal.seal(item.access_token),
    )
    return connections.add_connection(user_id, connection)


def sync(
    accounts: AccountRepository,
    connections: ConnectionRepository,
    provider: ProviderAdapter,
    seal: TokenSeal,
    user_id: str,
    connection_id: str,
    now: datetime,
) -> SyncOutcome:
    """One attempt: reads the provider's accounts and stores them (app/services/sync.py).

    Raises the ProviderError of a failed attempt, after recording it on the connection.
    """
    connection = connections.get_connection(user_id, connection_id)
    try:
        said = provider.accounts(seal.unseal(connection.sealed_token))
    except ProviderError as error:
        status = (
            ConnectionStatus.LOGIN_REQUIRED
            if isinstance(error, LoginRequired)
            else ConnectionStatus.SYNCING
            if error.retryable
            else ConnectionStatus.ERROR
        )
        _record(connections, user_id, connection_id, status, now, error)
        raise
    outcome = store_sync(
        accounts,
        user_id,
        connection_id,
        connection.institution_name,
        said,
        lambda: new_id("acc"),
    )
    _record(connections, user_id, connection_id, ConnectionStatus.HEALTHY, now, None)
    return outcome


def give_up(
    connections: ConnectionRepository,
    user_id: str,
    connection_id: str,
    error: ProviderError,
    now: datetime,
) -> Connection:
    """After the last attempt: the connection shows `error`, with the provider's code."""
    return _record(connections, user_id, connection_id, ConnectionStatus.ERROR, now, error)


def _record(
    connections: ConnectionRepository,
    user_id: str,
    connection_id: str,
    status: ConnectionStatus,
    now: datetime,
    error: ProviderError | None,
) -> Connection:
    def outcome(current: Connection) -> Connection:
        if error is None:
            return replace(current, status=status, last_successful_sync=now, error=None)
        return replace(
            current,
            status=status,
            last_failed_sync=now,
            error=SyncFailure(error.code, error.message),
        )

    return connections.modify_connection(user_id, connection_id, outcome)
