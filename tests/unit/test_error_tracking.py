"""Sentry gets unexpected exceptions, with the request id, and never account data."""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk

from app import create_app
from app.adapters.storage.memory import InMemoryAccountRepository
from app.domain.accounts import Account
from tests.conftest import SEED_FILE, serve_from
from tests.samples import valid_account


class Receiver(BaseHTTPRequestHandler):
    received: list[bytes] = []  # noqa: RUF012 (one receiver per test, reset by the fixture)

    def do_POST(self) -> None:  # the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        Receiver.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry_dsn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/42"
    monkeypatch.setenv("SENTRY_DSN", dsn)
    yield dsn
    sentry_sdk.flush(timeout=5)
    monkeypatch.delenv("SENTRY_DSN")
    sentry_sdk.init()  # back to no Sentry for the rest of the suite (it reads SENTRY_DSN)
    server.shutdown()
    server.server_close()


def test_an_unexpected_exception_reaches_sentry_without_account_data(sentry_dsn: str) -> None:
    # A user id made now, so that it cannot be in the source lines Sentry sends as context.
    user_id = f"user-{secrets.token_hex(6)}"
    app = create_app({"SEED_DATA": str(SEED_FILE)})
    store = FailingStore({user_id: []})
    serve_from(app, store)
    account = valid_account("checking", balance=1200.45, details__routingNumber="121000248")
    response = app.test_client().post(
        f"/users/{user_id}/accounts", json=account, headers={"Authorization": "Bearer secret-token"}
    )
    assert response.status_code == 500
    request_id = response.json["requestId"] if response.json else None
    assert request_id
    sentry_sdk.flush(timeout=5)

    envelope = b"".join(Receiver.received).decode()
    events = [json.loads(line) for line in envelope.splitlines() if '"exception"' in line]
    assert len(events) == 1
    event = events[0]
    assert event["tags"]["request_id"] == request_id
    assert event["exception"]["values"][-1]["value"] == "the store broke"
    assert event["tags"]["route"] == "/users/<id:user_id>/accounts"
    for secret in ["1200.45", "121000248", "secret-token", "Wells Fargo", user_id]:
        assert secret not in envelope, envelope[max(0, envelope.find(secret) - 150) :][:300]


def test_without_a_dsn_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    create_app({"SEED_DATA": str(SEED_FILE)})
    assert sentry_sdk.get_client().transport is None


# Last in the file: Sentry sends a few source lines around the raise as context, and those should
# be code, not the test's literal account values.
class FailingStore(InMemoryAccountRepository):
    def add_account(self, user_id: str, account: Account, limit: int | None = None) -> Account:
        balance, routing = account.balance, account.details  # noqa: F841 (in the frame's locals)
        raise RuntimeError("the store broke")
