"""HTTP routes for provider connections, their sync jobs, and providers' webhooks."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Blueprint, Response, current_app, request, url_for

from app.adapters.queue.running import utcnow
from app.adapters.webhooks import SIGNATURE_HEADER, BadSignature, verify
from app.domain.connections import SyncJob
from app.entrypoints.http.context import components
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import body_bytes, json_object_body, json_response
from app.entrypoints.http.idempotency import idempotent
from app.entrypoints.http.problems import Problem
from app.schemas.connections import (
    ConnectionSchema,
    LinkedConnectionSchema,
    LoginSchema,
    NewConnectionSchema,
    ProvidersSchema,
    SyncJobSchema,
    UserConnectionsSchema,
    WebhookAnswerSchema,
    WebhookSchema,
    webhook_code,
)
from app.schemas.errors import load
from app.services import linking, notices, update_mode

blueprint = Blueprint("connections", __name__)

CONNECTIONS_ROUTE = "/users/<id:user_id>/connections"
CONNECTION_ROUTE = f"{CONNECTIONS_ROUTE}/<id:connection_id>"

_new_connection_schema = NewConnectionSchema()
_login_schema = LoginSchema()
_connection_schema = ConnectionSchema()
_linked_schema = LinkedConnectionSchema()
_connections_schema = UserConnectionsSchema()
_job_schema = SyncJobSchema()
_webhook_schema = WebhookSchema()
_THE_CONNECTION = Answer(200, "The connection.", ConnectionSchema)


def _connection_response(
    shown: linking.Shown, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return json_response(_connection_schema.dump(shown), status, headers)


def _job_response(user_id: str, job: SyncJob, status: int = 200) -> Response:
    headers = {"Location": url_for(".get_job", user_id=user_id, job_id=job.id)}
    return json_response(_job_schema.dump(job), status, headers if status == 202 else None)


@blueprint.post(CONNECTIONS_ROUTE)
@contract(
    "Link an institution through a provider and queue the first sync.",
    [
        Answer(
            201,
            "Linked; the first sync is queued (status `syncing`): `syncJobId` follows it.",
            LinkedConnectionSchema,
            location=True,
        )
    ],
    description="The credentials are exchanged with the provider for an access token at once; "
    "only that token is kept, encrypted. 422 `link-refused` when the provider refuses them, "
    "503 `provider-unavailable` (with Retry-After) when it cannot be reached, 409 "
    "`already-linked` (with its `connectionId`) when the login is one of the user's "
    "connections already: same provider and institution, and the same accounts (the provider's "
    "persistent ids, else masks and names); repair that one's login instead.",
    body=Body(NewConnectionSchema),
    errors=[409, 503],
)
@idempotent
def link(user_id: str) -> Response:
    asked = load(_new_connection_schema, json_object_body())
    aggregation = components().aggregation
    connection, job = linking.link(
        aggregation,
        user_id,
        asked["provider"],
        asked["institution_id"],
        asked["credentials"],
        utcnow(),
    )
    location = url_for(".get_connection", user_id=user_id, connection_id=connection.id)
    health = connection.health(utcnow(), aggregation.policy.interval)
    body = _linked_schema.dump((connection, 0, health, job.id))
    return json_response(body, 201, {"Location": location})


@blueprint.get("/providers")
@contract(
    "The providers a bank may be linked through.", [Answer(200, "Their names.", ProvidersSchema)]
)
def list_providers() -> Response:
    return json_response({"providers": sorted(components().aggregation.providers)})


@blueprint.get(CONNECTIONS_ROUTE)
@contract(
    "The user's connections, in the order they were linked, with their sync status.",
    [Answer(200, "The connections.", UserConnectionsSchema)],
    conditional_read=True,
)
def list_connections(user_id: str) -> Response:
    shown = linking.connections_of(components().aggregation, user_id, utcnow())
    return json_response(_connections_schema.dump({"user_id": user_id, "connections": shown}))


@blueprint.get(CONNECTION_ROUTE)
@contract("One connection, with its sync status.", [_THE_CONNECTION], conditional_read=True)
def get_connection(user_id: str, connection_id: str) -> Response:
    return _connection_response(
        linking.connection_of(components().aggregation, user_id, connection_id, utcnow())
    )


@blueprint.delete(CONNECTION_ROUTE)
@contract(
    "Unlink the connection; the accounts synced from it go with it.", [Answer(204, "Deleted.")]
)
def delete_connection(user_id: str, connection_id: str) -> Response:
    components().aggregation.connections.delete_connection(user_id, connection_id)
    return Response(status=204)


@blueprint.post(f"{CONNECTION_ROUTE}/refresh")
@contract(
    "Queue a sync of the connection; while one is queued or running, that one is answered (a "
    "running one is followed by another once it ends).",
    [Answer(202, "The sync job; Location is where to follow it.", SyncJobSchema, location=True)],
    description="503 `queue-unavailable` (with Retry-After) when the queue cannot take the job; "
    "409 `connection-disconnected` when the user revoked the connection at the provider.",
    errors=[409, 503],
)
@idempotent
def refresh(user_id: str, connection_id: str) -> Response:
    job = linking.request_sync(components().aggregation, user_id, connection_id, utcnow())
    return _job_response(user_id, job, 202)


@blueprint.post(f"{CONNECTION_ROUTE}/login")
@contract(
    "Repair the connection's login with the user's new credentials (update mode), then sync it.",
    [
        Answer(
            200,
            "Repaired: the same connection, its sync queued (`syncJobId`).",
            LinkedConnectionSchema,
        )
    ],
    description="For a connection that is `login_required` (the bank wants the user to log in "
    "again), instead of unlinking and linking again: the connection keeps its id, its accounts "
    "their ids and history. 422 `link-refused` when the provider refuses the credentials, 409 "
    "`connection-disconnected` when the user revoked it at the provider (link it again).",
    body=Body(LoginSchema),
    errors=[409, 503],
)
@idempotent
def repair_login(user_id: str, connection_id: str) -> Response:
    asked = load(_login_schema, json_object_body())
    aggregation = components().aggregation
    now = utcnow()
    job = update_mode.repair_login(aggregation, user_id, connection_id, asked["credentials"], now)
    shown = linking.connection_of(aggregation, user_id, connection_id, now)
    return json_response(_linked_schema.dump((*shown, job.id)))


@blueprint.get("/users/<id:user_id>/sync-jobs/<id:job_id>")
@contract("One sync job: its status and what it changed.", [Answer(200, "The job.", SyncJobSchema)])
def get_job(user_id: str, job_id: str) -> Response:
    return _job_response(user_id, components().aggregation.connections.get_job(user_id, job_id))


@blueprint.post("/webhooks/<id:provider>")
@contract(
    "A provider's notice about one of its items (Plaid's webhook shape), signed.",
    [Answer(200, "Acted on (or not, as `action` says).", WebhookAnswerSchema)],
    description=f"The `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>` header carries "
    "HMAC-SHA256, under the shared webhook secret, of `<t>.<raw body>`. Unsigned, badly "
    "signed, too old (or too far ahead) and already-seen notices are a 401 and change nothing. "
    "`DEFAULT_UPDATE` queues a refresh, `ITEM_LOGIN_REQUIRED` (or `ERROR` with that code) marks "
    "the connection `login_required`, `USER_PERMISSION_REVOKED` marks it `disconnected`, "
    "`PENDING_EXPIRATION` notes its `consent_expiration_time` (`consentExpiresAt`), "
    "`LOGIN_REPAIRED` brings a `login_required` connection back to `healthy` and refreshes it, "
    "`NEW_ACCOUNTS_AVAILABLE` sets `newAccountsAvailable` and refreshes it (the sync takes them). "
    "A refresh asked for while a sync runs is followed by another once it ends.",
    body=Body(WebhookSchema),
    errors=[401, 404, 503],
)
def webhook(provider: str) -> Response:
    found = components()
    if provider not in found.aggregation.providers:
        raise Problem(
            404,
            "provider-not-found",
            "Provider not found",
            f"No provider '{provider}' is configured here.",
        )
    secret = current_app.config["WEBHOOK_SECRET"]
    body = body_bytes()  # the signature is over these bytes, exactly as they came
    if not secret:
        raise _not_signed("This service takes no webhooks: it has no webhook secret.")
    tolerance = float(current_app.config["WEBHOOK_TOLERANCE_SECONDS"])
    try:
        key = verify(
            str(secret), request.headers.get(SIGNATURE_HEADER), body, time.time(), tolerance
        )
    except BadSignature as error:
        raise _not_signed(f"{error}.") from None
    notice = load(_webhook_schema, json_object_body(body))
    now = utcnow()
    # Remembered past the window on both sides: a replay later than that fails on its time.
    if not found.deliveries.first_delivery(
        f"{provider}:{key}", now, now + 2 * timedelta(seconds=tolerance)
    ):
        raise _not_signed("This notice was delivered already.")
    action = notices.notice(
        found.aggregation,
        provider,
        notice["item_id"],
        webhook_code(notice),
        now,
        notice["consent_expiration_time"],
    )
    return json_response({"action": action})


def _not_signed(detail: str) -> Problem:
    return Problem(
        401, "bad-signature", "Bad signature", detail, {"WWW-Authenticate": "HMAC-SHA256"}
    )
