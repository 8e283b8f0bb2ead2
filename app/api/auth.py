"""Who may call what: bearer JWTs, and per-user isolation.

Every route needs a valid token except those in PUBLIC_ENDPOINTS, so a route added later is
protected unless someone decides otherwise. A token's `sub` names the one user whose data it may
read and change; the `admin` scope may act for any user and use the fixture routes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, current_app, g, request

from app.api.problems import Problem
from app.config import ConfigurationError

PUBLIC_ENDPOINTS = frozenset(
    {
        "openapi.openapi",
        "docs.page",
        "docs.start",
        "docs.static",
        "health.healthz",
        "health.readyz",
        "metrics.metrics",
    }
)
ADMIN_ENDPOINTS = frozenset({"fixture.export", "fixture.reset"})
ADMIN_SCOPE = "admin"
_VERIFIER_KEY = "accounts.token_verifier"
_REALM = 'Bearer realm="accounts-service"'
_CLOCK_SKEW_SECONDS = 10

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    user_id: str
    admin: bool

    def may_act_for(self, user_id: str) -> bool:
        return self.admin or self.user_id == user_id


@dataclass(frozen=True)
class TokenVerifier:
    key: Any
    algorithm: str

    def principal(self, token: str) -> Principal:
        # `algorithms` pins the one algorithm we configured: "none", and an HS256 token signed
        # with our RS256 public key as its secret, are both refused.
        claims = jwt.decode(
            token,
            self.key,
            algorithms=[self.algorithm],
            options={"require": ["sub", "exp"]},
            leeway=_CLOCK_SKEW_SECONDS,
        )
        subject = claims["sub"]
        if not isinstance(subject, str):
            raise jwt.InvalidTokenError("sub must be a string")
        scopes = claims.get("scope", "")
        return Principal(
            subject, ADMIN_SCOPE in (scopes.split() if isinstance(scopes, str) else [])
        )


def mint_token(
    user_id: str, key: Any, algorithm: str = "HS256", admin: bool = False, expires_in: int = 3600
) -> str:
    """A token for `user_id`, valid for `expires_in` seconds (for development and tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + expires_in}
    if admin:
        claims["scope"] = ADMIN_SCOPE
    return jwt.encode(claims, key, algorithm=algorithm)


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = f'{_REALM}, error="{error}"' if error else _REALM
    return Problem(401, "unauthorized", "Unauthorized", detail, {"WWW-Authenticate": challenge})


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def current_principal() -> Principal | None:
    """Who is calling; None when authentication is off."""
    principal: Principal | None = g.get("principal")
    return principal


def require_access(user_id: str) -> None:
    """403 unless the caller may act for `user_id` (anyone may, when authentication is off)."""
    principal = current_principal()
    if principal is not None and not principal.may_act_for(user_id):
        raise forbidden(f"This token may not act for user '{user_id}'.")


def _authenticate() -> None:
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return  # an unknown route is a 404 for everyone; public routes need nobody
    verifier: TokenVerifier = current_app.extensions[_VERIFIER_KEY]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send a bearer token: Authorization: Bearer <JWT>.")
    try:
        principal = verifier.principal(token.strip())
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


def _verifier(settings: dict[str, Any]) -> TokenVerifier:
    public_key_path = settings["JWT_PUBLIC_KEY"]
    if public_key_path:
        try:
            return TokenVerifier(Path(public_key_path).read_text(), "RS256")
        except OSError as error:
            raise ConfigurationError(
                f"ACCOUNTS_JWT_PUBLIC_KEY {public_key_path}: cannot read it: {error.strerror}"
            ) from None
    if settings["JWT_SECRET"]:
        return TokenVerifier(settings["JWT_SECRET"], "HS256")
    raise ConfigurationError(
        "authentication is on (ACCOUNTS_AUTH=jwt) but there is no key to check tokens with: "
        "set ACCOUNTS_JWT_SECRET (HS256) or ACCOUNTS_JWT_PUBLIC_KEY (RS256)"
    )


def auth_mode(settings: dict[str, Any]) -> str:
    """`jwt` or `off`; unset means off for the in-memory demo and on with a database."""
    mode = settings["AUTH"] or ("jwt" if settings["DATABASE_URL"] else "off")
    if mode not in ("jwt", "off"):
        raise ConfigurationError(f"ACCOUNTS_AUTH={mode!r}: must be 'jwt' or 'off'")
    return str(mode)


def token_verifier(settings: dict[str, Any]) -> TokenVerifier | None:
    """What checks tokens, or None when authentication is off."""
    return _verifier(settings) if auth_mode(settings) == "jwt" else None


def auth_enabled(app: Flask) -> bool:
    return _VERIFIER_KEY in app.extensions


def register_auth(app: Flask, verifier: TokenVerifier | None) -> None:
    if verifier is None:
        # Said once the app is otherwise ready, so that a failed start says only why it failed.
        log.warning(
            "authentication is off: anyone who can reach this service can read and change every "
            "user's accounts (set ACCOUNTS_AUTH=jwt and a key to turn it on)"
        )
        return
    app.extensions[_VERIFIER_KEY] = verifier
    app.before_request(_authenticate)
