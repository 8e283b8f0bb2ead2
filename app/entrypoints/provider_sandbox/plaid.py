"""The sandbox's Plaid routes: linking (a public token, exchanged for an access token), an item's
accounts and liabilities, its removal, and update mode's new login."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from flask import Flask, Response

from app.entrypoints.provider_sandbox.answers import (
    FAULT_ANSWERS,
    body,
    json_answer,
    login_required,
    plaid_error,
    unknown_access_token,
)
from app.entrypoints.provider_sandbox.reports import as_of, dated
from app.entrypoints.provider_sandbox.state import GOOD_PASSWORD, LIABILITY_KINDS, SandboxState


def add_plaid_routes(app: Flask, state: SandboxState) -> None:
    @app.post("/sandbox/public_token/create")
    def create_public_token() -> Response:
        asked = body()
        institution_id = asked.get("institution_id")
        options = asked.get("options")
        options = options if isinstance(options, dict) else {}
        if institution_id not in state.institutions:
            return plaid_error(400, "INVALID_INPUT", "INVALID_INSTITUTION", "no such institution")
        if options.get("override_password", GOOD_PASSWORD) != GOOD_PASSWORD:
            return plaid_error(
                400,
                "ITEM_ERROR",
                "INVALID_CREDENTIALS",
                "the provided credentials were not correct",
            )
        webhook = options.get("webhook")
        token = f"public-sandbox-{secrets.token_hex(12)}"
        with state.lock:
            state.public_tokens[token] = (
                institution_id,
                webhook if isinstance(webhook, str) else None,
            )
        return json_answer({"public_token": token, "request_id": secrets.token_hex(8)})

    @app.post("/institutions/get_by_id")
    def institution() -> Response:
        institution_id = body().get("institution_id")
        if institution_id not in state.institutions:
            return plaid_error(400, "INVALID_INPUT", "INVALID_INSTITUTION", "no such institution")
        name = state.institutions[institution_id]["name"]
        return json_answer(
            {
                "institution": {"institution_id": institution_id, "name": name},
                "request_id": secrets.token_hex(8),
            }
        )

    @app.post("/item/public_token/exchange")
    def exchange() -> Response:
        with state.lock:
            linked = state.public_tokens.pop(str(body().get("public_token")), None)
            if linked is None:
                return plaid_error(
                    400, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN", "public token unknown or used"
                )
            institution_id, webhook = linked
            item_id = f"item-{secrets.token_hex(8)}"
            access_token = f"access-sandbox-{secrets.token_hex(16)}"
            institution = state.institutions[institution_id]
            accounts = [dict(account) for account in institution["accounts"]]
            state.items[item_id] = (institution_id, accounts)
            state.liabilities[item_id] = copy.deepcopy(institution.get("liabilities", {}))
            state.webhooks[item_id] = webhook
            state.access_tokens[access_token] = item_id
        return json_answer(
            {
                "access_token": access_token,
                "item_id": item_id,
                "institution_id": institution_id,
                "request_id": secrets.token_hex(8),
            }
        )

    def about_item(with_liabilities: bool) -> Response:
        """The item whose access token the request sends: its accounts as reported now, and
        with them what its cards and loans owe; or a fault asked for, or an unknown token."""
        fault = state.take_fault()
        if fault is not None and (answer := FAULT_ANSWERS[fault.kind](fault)) is not None:
            return answer
        with state.lock:
            item_id = state.access_tokens.get(str(body().get("access_token")))
            if item_id is None:
                return unknown_access_token()
            if item_id in state.broken:
                return login_required()
            institution_id, item_accounts = state.items[item_id]
            day = state.as_of.get(item_id)
            said: dict[str, Any] = {
                "accounts": [as_of(account, day) for account in item_accounts],
                "item": {"item_id": item_id, "institution_id": institution_id},
            }
            if with_liabilities:
                owed = state.liabilities.get(item_id, {})
                said["liabilities"] = {
                    kind: [dated(one) for one in owed.get(kind, [])] for kind in LIABILITY_KINDS
                }
        return json_answer({**said, "request_id": secrets.token_hex(8)})

    @app.post("/accounts/get")
    def accounts() -> Response:
        return about_item(with_liabilities=False)

    @app.post("/liabilities/get")
    def liabilities() -> Response:
        return about_item(with_liabilities=True)

    @app.post("/item/remove")
    def remove_item() -> Response:
        with state.lock:
            item_id = state.access_tokens.pop(str(body().get("access_token")), None)
            if item_id is None:
                return unknown_access_token()
            for kept in (state.items, state.webhooks, state.as_of, state.liabilities):
                kept.pop(item_id, None)
            state.broken.discard(item_id)
        return json_answer({"request_id": secrets.token_hex(8)})

    @app.post("/sandbox/item/login/update")
    def update_login() -> Response:
        asked = body()
        options = asked.get("options")
        options = options if isinstance(options, dict) else {}
        with state.lock:
            item_id = state.access_tokens.get(str(asked.get("access_token")))
            if item_id is None:
                return unknown_access_token()
            if options.get("override_password") != GOOD_PASSWORD:
                return plaid_error(
                    400,
                    "ITEM_ERROR",
                    "INVALID_CREDENTIALS",
                    "the provided credentials were not correct",
                )
            state.broken.discard(item_id)
        return json_answer({"item_id": item_id, "request_id": secrets.token_hex(8)})
