"""Bearer tokens (JWTs): who a token names, and whether it may act for a user.

A token's `sub` names the one user whose data it may read and change; the `admin` scope may act
for any user. Nothing here knows about HTTP: app/entrypoints/http/auth.py reads the header and
answers 401/403.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from app.config import ConfigurationError

ADMIN_SCOPE = "admin"
_CLOCK_SKEW_SECONDS = 10
_VERIFIED_TOKENS_KEPT = 4096


@dataclass(frozen=True)
class Principal:
    user_id: str
    admin: bool

    def may_act_for(self, user_id: str | None) -> bool:
        """None stands for a user id yet to be generated, which only an admin may ask for."""
        return self.admin or self.user_id == user_id


@dataclass(frozen=True)
class TokenVerifier:
    key: Any
    algorithm: str
    #: When set, a token's `iss` must be this, and its `aud` must name this.
    issuer: str | None = None
    audience: str | None = None
    #: A token may not expire later than this many seconds from now: a stolen token that
    #: lives for years is a permanent key.
    max_lifetime_seconds: int = 86400
    #: Tokens already verified, with when each stops being valid: a client sends the same token
    #: with every request, and checking its signature again costs more than the rest of a
    #: cached read. Bounded: emptied when full.
    _verified: dict[str, tuple[Principal, float]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def cached_principal(self, token: str) -> Principal | None:
        """Whom a valid token names, remembered until it expires; None for a token `principal`
        refuses (the caller asks `principal` for the reason)."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() <= known[1]:
                return known[0]
            self._verified.pop(token, None)
        try:
            found, expires = self._verify(token)
        except jwt.InvalidTokenError:
            return None
        if len(self._verified) >= _VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[token] = (found, expires)
        return found

    def principal(self, token: str) -> Principal:
        return self._verify(token)[0]

    def _verify(self, token: str) -> tuple[Principal, float]:
        """Whom the token names and until when (its `exp` and the clock skew allowed), or
        InvalidTokenError."""
        # `algorithms` pins the one algorithm we configured: "none", and an HS256 token signed
        # with our RS256 public key as its secret, are both refused.
        required = ["sub", "exp"] + ["iss"] * bool(self.issuer) + ["aud"] * bool(self.audience)
        claims = jwt.decode(
            token,
            self.key,
            algorithms=[self.algorithm],
            issuer=self.issuer,
            audience=self.audience,
            options={"require": required},
            leeway=_CLOCK_SKEW_SECONDS,
        )
        for name in ("exp", "iat", "nbf"):
            # A NumericDate is a JSON number (RFC 7519): PyJWT lets "1765000000" and true by.
            if name in claims and not _is_number(claims[name]):
                raise jwt.InvalidTokenError(f"{name} must be a number")
        if not isinstance(claims.get("iss", ""), str):
            raise jwt.InvalidTokenError("iss must be a string")
        expires = claims["exp"]
        if expires > time.time() + self.max_lifetime_seconds + _CLOCK_SKEW_SECONDS:
            raise jwt.InvalidTokenError(
                f"exp is more than {self.max_lifetime_seconds} seconds ahead"
            )
        subject = claims["sub"]
        if not isinstance(subject, str):
            raise jwt.InvalidTokenError("sub must be a string")
        scopes = claims.get("scope", "")
        admin = ADMIN_SCOPE in (scopes.split() if isinstance(scopes, str) else [])
        return Principal(subject, admin), float(expires) + _CLOCK_SKEW_SECONDS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def mint_token(
    user_id: str,
    key: Any,
    algorithm: str = "HS256",
    admin: bool = False,
    expires_in: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A token for `user_id`, valid for `expires_in` seconds (for development and tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + expires_in}
    if admin:
        claims["scope"] = ADMIN_SCOPE
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, key, algorithm=algorithm)


def _verifier(settings: Mapping[str, Any]) -> TokenVerifier:
    key, algorithm = _key(settings)
    return TokenVerifier(
        key,
        algorithm,
        issuer=settings["JWT_ISSUER"] or None,
        audience=settings["JWT_AUDIENCE"] or None,
        max_lifetime_seconds=int(settings["JWT_MAX_LIFETIME_SECONDS"]),
    )


def _key(settings: Mapping[str, Any]) -> tuple[Any, str]:
    """The key tokens are checked with, and its algorithm."""
    public_key_path = settings["JWT_PUBLIC_KEY"]
    if public_key_path:
        try:
            return Path(public_key_path).read_text(), "RS256"
        except OSError as error:
            raise ConfigurationError(
                f"ACCOUNTS_JWT_PUBLIC_KEY {public_key_path}: cannot read it: {error.strerror}"
            ) from None
    if settings["JWT_SECRET"]:
        return settings["JWT_SECRET"], "HS256"
    raise ConfigurationError(
        "authentication is on (ACCOUNTS_AUTH=jwt) but there is no key to check tokens with: "
        "set ACCOUNTS_JWT_SECRET (HS256) or ACCOUNTS_JWT_PUBLIC_KEY (RS256)"
    )


def auth_mode(settings: Mapping[str, Any]) -> str:
    """`jwt` or `off`; unset means off for the in-memory demo and on with a database."""
    mode = settings["AUTH"] or ("jwt" if settings["DATABASE_URL"] else "off")
    if mode not in ("jwt", "off"):
        raise ConfigurationError(f"ACCOUNTS_AUTH={mode!r}: must be 'jwt' or 'off'")
    return str(mode)


def token_verifier(settings: Mapping[str, Any]) -> TokenVerifier | None:
    """What checks tokens, or None when authentication is off."""
    return _verifier(settings) if auth_mode(settings) == "jwt" else None
