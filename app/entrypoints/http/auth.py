"""Who may call what: bearer JWTs, and per-user isolation.

Every route needs a valid token except those in PUBLIC_ENDPOINTS, so a route added later is
protected unless someone decides otherwise. A token's `sub` names the one user whose data it may
read and change; the `admin` scope may act for any user and use the fixture routes.
"""

from __future__ import annotations

import logging
from functools import partial

import jwt
from flask import Flask, g, request

from app.adapters.tokens import Principal, TokenVerifier
from app.entrypoints.http.context import components_of
from app.entrypoints.http.limits import bearer_token
from app.entrypoints.http.problems import Problem

PUBLIC_ENDPOINTS = frozenset(
    {
        "openapi.openapi",
        "docs.reference",
        "docs.start",
        "docs.static",
        # The page holds no data: what it shows, it reads with the token pasted into it.
        "page.page",
        "page.static",
        "health.healthz",
        # Signed by the provider instead (app/adapters/webhooks.py): it holds no user's token.
        "connections.webhook",
        "health.readyz",
        "metrics.metrics",
    }
)
ADMIN_ENDPOINTS = frozenset({"fixture.export", "fixture.reset", "users.list_users"})
_REALM = 'Bearer realm="accounts-service"'

log = logging.getLogger(__name__)


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = f'{_REALM}, error="{error}"' if error else _REALM
    return Problem(401, "unauthorized", "Unauthorized", detail, {"WWW-Authenticate": challenge})


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def current_principal() -> Principal | None:
    """Who is calling; None when authentication is off."""
    principal: Principal | None = g.get("principal")
    return principal


def require_access(user_id: str | None) -> None:
    """403 unless the caller may act for `user_id` (anyone may, when authentication is off);
    None stands for an id yet to be generated, which only an admin may ask for."""
    principal = current_principal()
    if principal is not None and not principal.may_act_for(user_id):
        whom = f"user '{user_id}'" if user_id else "a user whose id is generated"
        raise forbidden(f"This token may not act for {whom}.")


def _authenticate(verifier: TokenVerifier) -> None:
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return  # an unknown route is a 404 for everyone; public routes need nobody
    token = bearer_token(request.headers.get("Authorization", ""))
    if not token:
        raise _unauthorized("Send a bearer token: Authorization: Bearer <JWT>.")
    try:
        # The cached answer for a token seen before; the reason it is refused, otherwise.
        principal = verifier.cached_principal(token) or verifier.principal(token)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("The token has expired.", "invalid_token") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("The token is not valid.", "invalid_token") from None
    g.principal = principal
    if request.endpoint in ADMIN_ENDPOINTS and not principal.admin:
        raise forbidden("This route needs a token with the admin scope.")
    user_id = (request.view_args or {}).get("user_id")
    if user_id is not None:
        require_access(user_id)


def auth_enabled(app: Flask) -> bool:
    return components_of(app).verifier is not None


def register_auth(app: Flask) -> None:
    verifier = components_of(app).verifier
    if verifier is None:
        # Said once the app is otherwise ready, so that a failed start says only why it failed.
        log.warning(
            "authentication is off: anyone who can reach this service can read and change every "
            "user's accounts (set ACCOUNTS_AUTH=jwt and a key to turn it on)"
        )
        return
    app.before_request(partial(_authenticate, verifier))
