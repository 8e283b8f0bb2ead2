"""A signed webhook acted on once: the same delivery again is refused for as long as its signed
time could still pass the window, twice the tolerance (here 300 s), and not just a moment."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.adapters.queue.running import utcnow
from app.entrypoints.http import connections as connections_api
from tests.conftest import SEED_FILE

SECRET = "whsec-for-tests"
NOTICE = json.dumps(
    {"webhook_type": "ITEM", "webhook_code": "DEFAULT_UPDATE", "item_id": "not-linked-here"}
).encode()


@pytest.fixture
def client() -> FlaskClient:
    # A sandbox URL nobody answers: a notice about an item not linked here never reaches it.
    return create_app(
        {
            "SEED_DATA": str(SEED_FILE),
            "PROVIDER_SANDBOX_URL": "http://127.0.0.1:9",
            "WEBHOOK_SECRET": SECRET,
        }
    ).test_client()


def deliver(client: FlaskClient, signed_at: int) -> int:
    digest = hmac.new(SECRET.encode(), f"{signed_at}.".encode() + NOTICE, hashlib.sha256)
    header = f"t={signed_at},v1={digest.hexdigest()}"
    answer = client.post(
        "/webhooks/sandbox",
        data=NOTICE,
        headers={"Content-Type": "application/json", "Webhook-Signature": header},
    )
    return int(answer.status_code)


def test_a_delivery_again_is_refused_until_its_time_could_no_longer_pass(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = utcnow()
    signed_at = int(first.timestamp())
    assert deliver(client, signed_at) == 200
    # The service's clock moved on; the signature, checked against the real one, still holds.
    for seconds, status in [(5, 401), (299, 401), (590, 401), (601, 200)]:
        later = first + timedelta(seconds=seconds)
        monkeypatch.setattr(connections_api, "utcnow", lambda moment=later: moment)
        assert deliver(client, signed_at) == status, seconds
