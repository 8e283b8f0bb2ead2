"""The sandbox's admin routes: faults, an item's accounts, liabilities and past day set, its login
broken, and its webhooks sent, signed."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime

from flask import Flask, Response

from app.adapters.exact_json import dumps_bytes
from app.adapters.webhooks import SIGNATURE_HEADER, signature
from app.entrypoints.provider_sandbox.answers import (
    body,
    invalid,
    json_answer,
    json_body,
    no_such_item,
    plaid_error,
)
from app.entrypoints.provider_sandbox.state import FAULTS, LIABILITY_KINDS, Fault, SandboxState


def add_admin_routes(app: Flask, state: SandboxState, webhook_secret: str | None) -> None:
    @app.post("/sandbox/admin/items/<item_id>/reset-login")
    def reset_login(item_id: str) -> Response:
        with state.lock:
            if item_id not in state.items:
                return no_such_item()
            state.broken.add(item_id)
        return Response(status=204)

    @app.post("/sandbox/admin/fault")
    def set_fault() -> Response:
        asked = body()
        kind = asked.get("kind")
        if kind is not None and kind not in FAULTS:
            return invalid(f"kind must be one of {', '.join(FAULTS)}, or null")
        times = asked.get("times")
        with state.lock:
            state.fault = (
                None
                if kind is None
                else Fault(str(kind), int(times) if times else None, float(asked.get("seconds", 1)))
            )
        return Response(status=204)

    @app.put("/sandbox/admin/items/<item_id>/accounts")
    def set_accounts(item_id: str) -> Response:
        accounts = json_body()
        if not isinstance(accounts, list):
            return invalid("send the item's accounts as a list")
        with state.lock:
            if item_id not in state.items:
                return no_such_item()
            state.items[item_id] = (state.items[item_id][0], accounts)
        return Response(status=204)

    @app.put("/sandbox/admin/items/<item_id>/liabilities")
    def set_liabilities(item_id: str) -> Response:
        owed = json_body()
        if not isinstance(owed, dict) or not set(owed) <= set(LIABILITY_KINDS):
            return invalid(f"send Plaid's liabilities object: {', '.join(LIABILITY_KINDS)}")
        with state.lock:
            if item_id not in state.items:
                return no_such_item()
            state.liabilities[item_id] = owed
        return Response(status=204)

    @app.put("/sandbox/admin/items/<item_id>/as-of")
    def set_as_of(item_id: str) -> Response:
        asked = body().get("date")
        try:
            day = None if asked is None else date.fromisoformat(str(asked))
        except ValueError:
            return invalid("date must be YYYY-MM-DD, or null")
        if day is not None and day >= datetime.now(UTC).date():
            return invalid("date must be a past day, or null for today")
        with state.lock:
            if item_id not in state.items:
                return no_such_item()
            if day is None:
                state.as_of.pop(item_id, None)
            else:
                state.as_of[item_id] = day
        return Response(status=204)

    @app.get("/sandbox/admin/items")
    def items() -> Response:
        with state.lock:
            return json_answer({item_id: linked[0] for item_id, linked in state.items.items()})

    @app.post("/sandbox/admin/items/<item_id>/webhook")
    def send_webhook(item_id: str) -> Response:
        asked = body()
        with state.lock:
            if item_id not in state.items:
                return no_such_item()
            if asked.get("webhook_code") == "LOGIN_REPAIRED":
                state.broken.discard(item_id)  # what it says: the login works again
            url = state.webhooks.get(item_id)
        if url is None or webhook_secret is None:
            return invalid("the item was linked without a webhook, or the sandbox has no secret")
        notice = dumps_bytes({**asked, "item_id": item_id, "environment": "sandbox"})
        sent = urllib.request.Request(  # noqa: S310 (the URL the service linked with)
            url,
            data=notice,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(webhook_secret, int(time.time()), notice),
            },
        )
        try:
            with urllib.request.urlopen(sent, timeout=10) as answer:  # noqa: S310  # nosec B310
                status = answer.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        except OSError as error:
            return plaid_error(502, "API_ERROR", "WEBHOOK_UNDELIVERED", str(error))
        return json_answer({"receiver_status": status})
