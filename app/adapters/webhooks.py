"""Signed webhooks: how a provider signs a notice and how the service checks it.

The signature is HMAC-SHA256, under a secret both sides hold, of the timestamp and the raw body
(`<unix seconds>.<body>`), sent as `Webhook-Signature: t=<unix seconds>,v1=<hex>`: signing the
timestamp with the body means an old notice cannot be sent again with a new time, and the time
window bounds how long a captured one could be replayed at all; within the window the service
remembers what it has acted on (app/services/repositories.py DeliveryLog).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Webhook-Signature"


class BadSignature(Exception):
    """The notice is unsigned, badly signed, or signed too long ago (the message says which)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value that signs `body` at `timestamp`."""
    digest = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, now: float, window: float) -> str:
    """The signature's digest, a key that names this delivery, when the header signs `body`
    within `window` seconds of `now`; raises BadSignature otherwise."""
    if not header:
        raise BadSignature(f"the {SIGNATURE_HEADER} header is missing")
    parts = dict(part.partition("=")[::2] for part in header.split(","))
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        raise BadSignature(f"the {SIGNATURE_HEADER} header has no t=<unix seconds>") from None
    if abs(now - timestamp) > window:
        raise BadSignature(f"the signature's time is more than {window:g} seconds from now")
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    # Constant time: how long the comparison takes says nothing about how much of it matched.
    if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode()):
        raise BadSignature("the signature does not match the body")
    return expected
