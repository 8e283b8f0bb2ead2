"""Webhook signatures as the docs define them: `Webhook-Signature: t=<unix seconds>,v1=<hex>`, the
HMAC-SHA256 under the shared secret of `<t>.<raw body>`, built here by hand, never by the code
under test; within the time window and no further."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.adapters.webhooks import SIGNATURE_HEADER, BadSignature, signature, verify

SECRET = "whsec-for-tests"
BODY = b'{"webhook_type":"ITEM","webhook_code":"DEFAULT_UPDATE","item_id":"item-1"}'
AT = 1_765_000_000
MISSING = "the Webhook-Signature header is missing"
NO_TIME = "the Webhook-Signature header has no t=<unix seconds>"
NO_MATCH = "the signature does not match the body"


def documented(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_header_is_named_and_signed_as_documented() -> None:
    assert SIGNATURE_HEADER == "Webhook-Signature"
    assert signature(SECRET, AT, BODY) == f"t={AT},v1={documented(SECRET, AT, BODY)}"


def test_a_notice_signed_as_documented_is_accepted_and_named_by_its_digest() -> None:
    header = f"t={AT},v1={documented(SECRET, AT, BODY)}"
    assert verify(SECRET, header, BODY, AT, 300) == documented(SECRET, AT, BODY)
    # The parts in another order are the same signature.
    assert verify(SECRET, f"v1={documented(SECRET, AT, BODY)},t={AT}", BODY, AT, 300)


@pytest.mark.parametrize("now", [AT - 300, AT + 300, AT + 299.5])
def test_the_window_holds_to_its_edge(now: float) -> None:
    assert verify(SECRET, f"t={AT},v1={documented(SECRET, AT, BODY)}", BODY, now, 300)


@pytest.mark.parametrize("now", [AT - 301, AT + 301, AT + 300.5])
def test_past_the_window_either_way_is_refused(now: float) -> None:
    with pytest.raises(BadSignature) as refused:
        verify(SECRET, f"t={AT},v1={documented(SECRET, AT, BODY)}", BODY, now, 300)
    assert str(refused.value) == "the signature's time is more than 300 seconds from now"


@pytest.mark.parametrize(
    ("header", "because"),
    [
        (None, MISSING),
        ("", MISSING),
        (f"v1={documented(SECRET, AT, BODY)}", NO_TIME),
        (f"t=soon,v1={documented(SECRET, AT, BODY)}", NO_TIME),
        (f"t={AT}", NO_MATCH),
        (f"t={AT},v1={documented('another-secret', AT, BODY)}", NO_MATCH),
        (f"t={AT},v1={documented(SECRET, AT + 1, BODY)}", NO_MATCH),
        (f"t={AT},v1={documented(SECRET, AT, BODY + b' ')}", NO_MATCH),
    ],
)
def test_anything_else_is_refused_saying_why(header: str | None, because: str) -> None:
    with pytest.raises(BadSignature) as refused:
        verify(SECRET, header, BODY, AT, 300)
    assert str(refused.value) == because
