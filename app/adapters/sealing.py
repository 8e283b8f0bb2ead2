"""Provider access tokens sealed at rest: encrypted with Fernet (AES-128-CBC and HMAC-SHA256,
from `cryptography`) under a key from the settings, so that a copy of the database alone reads
no bank login."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from app.config import ConfigurationError
from app.services.aggregation import Seal, UnreadableToken


class TokenSeal(Seal):
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise ConfigurationError(
                "ACCOUNTS_TOKEN_KEY must be a Fernet key: 32 url-safe base64-encoded bytes "
                "(python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise UnreadableToken() from None
