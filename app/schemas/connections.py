"""The JSON shapes of connections, sync jobs and providers' webhooks."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any

from marshmallow import INCLUDE, Schema, fields, pre_dump, validate

from app.domain.connections import EXPIRING, Connection, ConnectionStatus, Health, JobStatus
from app.schemas.fields import UtcDateTime, text, validate_text

_MOMENT = "RFC 3339, in UTC; null until it happens."


class LoginSchema(Schema):
    """A login's credentials: to link, or to repair a connection's broken login."""

    credentials = fields.Dict(
        keys=fields.String(validate=[validate.Length(min=1, max=64), validate_text]),
        values=fields.String(validate=[validate.Length(max=2048), validate_text]),
        required=True,
        metadata={
            "description": "What the provider needs to link: Plaid Link's `publicToken`, or for "
            "the sandbox a `username` and `password` (`user_good` / `pass_good`). Handed to "
            "the provider and never stored, logged or answered; the provider judges them.",
            # A publicToken, or a username and a password (or all three).
            "propertyNames": {"enum": ["publicToken", "username", "password"]},
            "minProperties": 1,
            "dependentRequired": {"username": ["password"], "password": ["username"]},
        },
    )


class NewConnectionSchema(LoginSchema):
    provider = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "A provider configured here, e.g. `sandbox`."},
    )
    institution_id = text(64, required=True, data_key="institutionId")


class ProvidersSchema(Schema):
    providers = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The providers configured here, which a link may name."},
    )


class SyncFailureSchema(Schema):
    code = fields.String(required=True, metadata={"description": "The provider's error code."})
    message = fields.String(required=True)


def _failure() -> fields.Nested:
    return fields.Nested(SyncFailureSchema, allow_none=True, required=True)


class ConnectionSchema(Schema):
    """Dumps a connection with how many accounts it brought and its health:
    `(connection, account_count, health)`."""

    id = fields.String(required=True)
    provider = fields.String(required=True)
    institution_id = fields.String(required=True, data_key="institutionId")
    institution_name = fields.String(required=True, data_key="institutionName")
    status = fields.String(
        required=True,
        metadata={
            "enum": [*map(str, ConnectionStatus), EXPIRING],
            "description": "`expiring`: healthy, but the user's consent ends within 7 days "
            "(`consentExpiresAt`); they are to renew it at the provider.",
        },
    )
    last_successful_sync = UtcDateTime(
        required=True,
        allow_none=True,
        data_key="lastSuccessfulSync",
        metadata={"description": _MOMENT},
    )
    last_failed_sync = UtcDateTime(
        required=True, allow_none=True, data_key="lastFailedSync", metadata={"description": _MOMENT}
    )
    error = _failure()
    account_count = fields.Integer(
        required=True,
        data_key="accountCount",
        metadata={"description": "Accounts synced from it, closed ones included."},
    )
    stale = fields.Boolean(
        required=True,
        metadata={
            "description": "The last successful sync is older than two of the schedule's "
            "intervals: the balances shown may be out of date."
        },
    )
    consent_expires_at = UtcDateTime(
        required=True,
        allow_none=True,
        data_key="consentExpiresAt",
        metadata={"description": "When the user's consent to the provider ends; null if never."},
    )
    new_accounts_available = fields.Boolean(
        required=True,
        data_key="newAccountsAvailable",
        metadata={"description": "The provider has accounts of this login the next sync takes."},
    )

    @pre_dump
    def _with_count(
        self, shown: tuple[Connection, int, Health, *tuple[str, ...]], **_: Any
    ) -> dict[str, Any]:
        connection, account_count, health, *job_id = shown
        # Never the sealed token: only the fields this schema names are dumped.
        return {
            **{item.name: getattr(connection, item.name) for item in dataclass_fields(connection)},
            "status": health.status,
            "stale": health.stale,
            "account_count": account_count,
            "sync_job_id": job_id[0] if job_id else None,
        }


class LinkedConnectionSchema(ConnectionSchema):
    """A connection just linked, and its first sync's job: `(connection, 0, health, job_id)`."""

    sync_job_id = fields.String(
        required=True,
        data_key="syncJobId",
        metadata={"description": "The first sync's job: GET /users/{userId}/sync-jobs/{id}."},
    )


class UserConnectionsSchema(Schema):
    user_id = fields.String(required=True, data_key="userId")
    connections = fields.List(fields.Nested(ConnectionSchema), required=True)


class SyncJobSchema(Schema):
    id = fields.String(required=True)
    connection_id = fields.String(required=True, data_key="connectionId")
    status = fields.Enum(JobStatus, by_value=fields.String, required=True)
    accounts_added = fields.Integer(required=True, data_key="accountsAdded")
    accounts_updated = fields.Integer(required=True, data_key="accountsUpdated")
    accounts_closed = fields.Integer(required=True, data_key="accountsClosed")
    error = _failure()
    created_at = UtcDateTime(required=True, data_key="createdAt")
    finished_at = UtcDateTime(
        required=True, allow_none=True, data_key="finishedAt", metadata={"description": _MOMENT}
    )


class WebhookErrorSchema(Schema):
    class Meta:
        unknown = INCLUDE

    error_code = fields.String(required=True)


class WebhookSchema(Schema):
    """A provider's notice, in Plaid's shape; fields this service does not use are allowed."""

    class Meta:
        unknown = INCLUDE

    webhook_type = fields.String(required=True)
    webhook_code = fields.String(required=True)
    item_id = fields.String(
        required=True, validate=[validate.Length(min=1, max=128), validate_text]
    )
    error = fields.Nested(WebhookErrorSchema, allow_none=True, load_default=None)
    consent_expiration_time = UtcDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "`PENDING_EXPIRATION`'s: when the user's consent ends."},
    )


class WebhookAnswerSchema(Schema):
    action = fields.String(
        required=True,
        metadata={
            "description": "What was done: refresh, login_required, disconnected, "
            "consent_expiring, ignored."
        },
    )


def webhook_code(notice: dict[str, Any]) -> str:
    """The notice's code, in the terms app/services/notices.py acts on: Plaid reports a
    broken login as `ERROR` with the error's code."""
    error = notice.get("error")
    if notice["webhook_code"] == "ERROR" and error:
        return str(error["error_code"])
    return str(notice["webhook_code"])
