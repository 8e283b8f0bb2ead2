"""A provider's (verified) webhook notices about its items, acted on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from app.domain.connections import (
    Connection,
    ConnectionStatus,
    SyncFailure,
)
from app.domain.errors import ConnectionDisconnected
from app.services.aggregation import Aggregation, record_sync
from app.services.linking import request_sync
from app.services.providers import LoginRequired


def notice(
    aggregation: Aggregation,
    provider_name: str,
    item_id: str,
    code: str,
    now: datetime,
    consent_expires_at: datetime | None = None,
) -> str:
    """Acts on a provider's (verified) webhook about an item; says what it did."""
    found = aggregation.connections.find_connection(provider_name, item_id)
    if found is None:
        return "ignored"  # not linked here, or deleted since
    user_id, connection = found
    if code == "PENDING_EXPIRATION":
        aggregation.connections.modify_connection(
            user_id,
            connection.id,
            lambda current: replace(current, consent_expires_at=consent_expires_at),
        )
        return "consent_expiring"
    if code in FRESH_START_CODES:
        # Repaired, or with accounts the last sync did not have: what the provider says now.
        aggregation.connections.modify_connection(user_id, connection.id, FRESH_START_CODES[code])
        try:
            request_sync(aggregation, user_id, connection.id, now)
        except ConnectionDisconnected:
            return "ignored"
        return "refresh"
    if code in LOGIN_REQUIRED_CODES:
        error = LoginRequired("the provider says the user must log in again")
        record_sync(
            aggregation.connections,
            user_id,
            connection.id,
            ConnectionStatus.LOGIN_REQUIRED,
            now,
            error,
            None,
        )
        return "login_required"
    if code in REVOKED_CODES:
        aggregation.connections.modify_connection(
            user_id,
            connection.id,
            lambda current: replace(
                current,
                status=ConnectionStatus.DISCONNECTED,
                next_sync_at=None,
                error=SyncFailure(code, "the user revoked access at the provider"),
            ),
        )
        return "disconnected"
    if code in NEW_DATA_CODES:
        try:
            request_sync(aggregation, user_id, connection.id, now)
        except ConnectionDisconnected:
            return "ignored"
        return "refresh"
    return "ignored"


#: Plaid's webhook codes, by what they mean here.
NEW_DATA_CODES = frozenset({"DEFAULT_UPDATE", "SYNC_UPDATES_AVAILABLE"})


def _repaired(current: Connection) -> Connection:
    if current.status is not ConnectionStatus.LOGIN_REQUIRED:
        return current
    return replace(current, status=ConnectionStatus.HEALTHY, error=None)


#: Codes after which the connection is synced at once, changed first as each says.
FRESH_START_CODES: dict[str, Callable[[Connection], Connection]] = {
    "LOGIN_REPAIRED": _repaired,
    "NEW_ACCOUNTS_AVAILABLE": lambda current: replace(current, new_accounts_available=True),
}


LOGIN_REQUIRED_CODES = frozenset({"ITEM_LOGIN_REQUIRED", "PENDING_DISCONNECT"})


REVOKED_CODES = frozenset({"USER_PERMISSION_REVOKED", "USER_ACCOUNT_REVOKED"})
