"""Update mode: a connection whose login broke (`login_required`) repaired in place with the
user's new credentials, as Plaid's update mode does: the same connection, its accounts' ids and
their history kept; then synced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from app.domain.connections import Connection, ConnectionStatus, SyncJob
from app.domain.errors import ConnectionDisconnected, LinkRefused
from app.services.aggregation import Aggregation, UnreadableToken
from app.services.linking import refused, request_sync
from app.services.providers import ProviderError


def repair_login(
    aggregation: Aggregation,
    user_id: str,
    connection_id: str,
    credentials: Mapping[str, str],
    now: datetime,
) -> SyncJob:
    """Hands the new credentials to the provider for the connection's own login, and syncs it;
    the sync's job. Raises UserNotFound, ConnectionNotFound, ConnectionDisconnected (revoked:
    linking again is the way back), LinkRefused or ProviderUnavailable; refused, nothing
    changes."""
    connection = aggregation.connections.get_connection(user_id, connection_id)
    if connection.status is ConnectionStatus.DISCONNECTED:
        raise ConnectionDisconnected(connection_id)
    provider = aggregation.providers.get(connection.provider)
    if provider is None:
        raise LinkRefused("PROVIDER_NOT_CONFIGURED", f"'{connection.provider}' is not here")
    try:
        provider.repair(aggregation.seal.unseal(connection.sealed_token), credentials)
    except UnreadableToken:
        raise LinkRefused("TOKEN_UNREADABLE", "sealed under another key: link again") from None
    except ProviderError as error:
        raise refused(error) from None

    def repaired(current: Connection) -> Connection:
        if current.status is not ConnectionStatus.LOGIN_REQUIRED:
            return current
        return replace(current, status=ConnectionStatus.HEALTHY, error=None)

    aggregation.connections.modify_connection(user_id, connection_id, repaired)
    return request_sync(aggregation, user_id, connection_id, now)
