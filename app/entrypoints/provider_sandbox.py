"""`accounts-service provider-sandbox`: a provider to sync from, over HTTP, with faults on demand.

It answers in Plaid's shapes (`/sandbox/public_token/create`, `/item/public_token/exchange`,
`/institutions/get_by_id`, `/accounts/get` (with `persistent_account_id` where the data has one),
`/liabilities/get`, `/item/remove`, and Plaid's error objects), from a
data file of institutions, their accounts and what their cards and loans owe
(app/entrypoints/provider_sandbox.json by default; a liability's date given as a whole number is
that many days from today, so that what is due stays due), in its own process. Admin routes
change what it says:

- `POST /sandbox/admin/fault` `{"kind": "slow" | "server_error" | "rate_limited" |
  "login_required", "times": N, "seconds": S}`: the next N calls to /accounts/get (or all of them
  without `times`) are slow by S seconds, or answer 500, 429 with `Retry-After: S`, or Plaid's
  ITEM_LOGIN_REQUIRED; `{"kind": null}` clears it.
- `GET /sandbox/admin/items`: every item linked so far, with its institution.
- `PUT /sandbox/admin/items/<item_id>/accounts` with a list of accounts: what that item's
  institution says from now on (accounts added, changed or gone).
- `POST /sandbox/admin/items/<item_id>/reset-login`: that item's login breaks (Plaid's
  `/sandbox/item/reset_login`): ITEM_LOGIN_REQUIRED until `/sandbox/item/login/update` (the
  stand-in for Link in update mode) gets its access token and the good password.
- `PUT /sandbox/admin/items/<item_id>/liabilities` with Plaid's `liabilities` object: what that
  item's cards and loans owe from now on.
- `PUT /sandbox/admin/items/<item_id>/as-of` `{"date": "YYYY-MM-DD"}`: that item's accounts are
  reported as they stood on that past day (`last_updated_datetime` at noon UTC that day, each
  balance PAST_GROWTH a year lower than the one the data gives, as of its own
  `last_updated_datetime` or else today, in proportion), so that syncs, oldest day
  first, build a history; `{"date": null}` reports today's again.
- `POST /sandbox/admin/items/<item_id>/webhook` `{"webhook_type": …, "webhook_code": …}`: sends
  that webhook, signed (app/adapters/webhooks.py) with the secret the sandbox was started with, to
  the URL the item was linked with (`options.webhook`), and answers what the receiver answered;
  any other fields of the body go with it (`consent_expiration_time` for `PENDING_EXPIRATION`),
  and `LOGIN_REPAIRED` repairs the item's login first.

Linking takes Plaid's sandbox credentials: `/sandbox/public_token/create` with
`options.override_username` / `override_password` accepts `user_good` / `pass_good` only.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, HTTPException

from app.adapters.exact_json import dumps_bytes, loads_exact
from app.adapters.webhooks import SIGNATURE_HEADER, signature

DEFAULT_DATA = Path(__file__).with_name("provider_sandbox.json")
FAULTS = ("slow", "server_error", "rate_limited", "login_required")
#: Plaid's sandbox login: any other password is refused.
GOOD_PASSWORD = "pass_good"  # noqa: S105  # nosec B105 (a test credential, public by design)
#: How much lower a balance is reported a year before today (a steady trend to draw).
PAST_GROWTH = Decimal("0.10")
#: The kinds of account Plaid's /liabilities/get describes.
LIABILITY_KINDS = ("credit", "mortgage", "student")


@dataclass
class Fault:
    kind: str
    #: How many more calls it applies to; None for every call until cleared.
    remaining: int | None
    seconds: float


@dataclass
class SandboxState:
    institutions: dict[str, dict[str, Any]]
    #: public token -> (institution id, webhook URL)
    public_tokens: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)
    #: item id -> (institution id, that item's accounts)
    items: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)
    webhooks: dict[str, str | None] = field(default_factory=dict)
    #: item id -> the past day its accounts are reported as of
    as_of: dict[str, date] = field(default_factory=dict)
    #: item id -> Plaid's `liabilities` object for it
    liabilities: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Items whose login broke: ITEM_LOGIN_REQUIRED until updated with good credentials.
    broken: set[str] = field(default_factory=set)
    fault: Fault | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self) -> Fault | None:
        with self.lock:
            fault = self.fault
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.fault = None
            return fault


def login_required() -> Response:
    return _plaid_error(
        400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "the login details of this item changed"
    )


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps_bytes(body), status, headers, mimetype="application/json")


def _plaid_error(status: int, error_type: str, code: str, message: str) -> Response:
    return _json(
        {
            "error_type": error_type,
            "error_code": code,
            "error_message": message,
            "display_message": None,
            "request_id": secrets.token_hex(8),
        },
        status,
    )


def create_sandbox(data: Mapping[str, Any], webhook_secret: str | None = None) -> Flask:
    state = SandboxState({key: dict(value) for key, value in data["institutions"].items()})
    app = Flask(__name__)

    def body() -> dict[str, Any]:
        parsed = json_body()
        return parsed if isinstance(parsed, dict) else {}

    def json_body() -> Any:
        try:
            return loads_exact(request.get_data() or b"{}")
        except (ValueError, RecursionError):
            raise BadRequest("the body is not JSON") from None

    def invalid(message: str) -> Response:
        return _plaid_error(400, "INVALID_REQUEST", "INVALID_FIELD", message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Plaid's error object for everything it answers, never an HTML page.
        status = error.code or 500
        return _plaid_error(status, "INVALID_REQUEST", f"HTTP_{status}", str(error.description))

    @app.post("/sandbox/public_token/create")
    def create_public_token() -> Response:
        asked = body()
        institution_id = asked.get("institution_id")
        options = asked.get("options")
        options = options if isinstance(options, dict) else {}
        if institution_id not in state.institutions:
            return _plaid_error(400, "INVALID_INPUT", "INVALID_INSTITUTION", "no such institution")
        if options.get("override_password", GOOD_PASSWORD) != GOOD_PASSWORD:
            return _plaid_error(
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
        return _json({"public_token": token, "request_id": secrets.token_hex(8)})

    @app.post("/institutions/get_by_id")
    def institution() -> Response:
        institution_id = body().get("institution_id")
        if institution_id not in state.institutions:
            return _plaid_error(400, "INVALID_INPUT", "INVALID_INSTITUTION", "no such institution")
        name = state.institutions[institution_id]["name"]
        return _json(
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
                return _plaid_error(
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
        return _json(
            {
                "access_token": access_token,
                "item_id": item_id,
                "institution_id": institution_id,
                "request_id": secrets.token_hex(8),
            }
        )

    faults: dict[str, Callable[[Fault], Response | None]] = {
        "slow": lambda fault: time.sleep(fault.seconds),
        "server_error": lambda _: _plaid_error(
            500, "API_ERROR", "INTERNAL_SERVER_ERROR", "the sandbox failed, as asked"
        ),
        "rate_limited": lambda fault: _json(
            {
                "error_type": "RATE_LIMIT_EXCEEDED",
                "error_code": "RATE_LIMIT",
                "error_message": "too many requests",
                "display_message": None,
                "request_id": secrets.token_hex(8),
            },
            429,
            {"Retry-After": f"{fault.seconds:g}"},
        ),
        "login_required": lambda _: login_required(),
    }

    def about_item(with_liabilities: bool) -> Response:
        """The item whose access token the request sends: its accounts as reported now, and
        with them what its cards and loans owe; or a fault asked for, or an unknown token."""
        fault = state.take_fault()
        if fault is not None and (answer := faults[fault.kind](fault)) is not None:
            return answer
        with state.lock:
            item_id = state.access_tokens.get(str(body().get("access_token")))
            if item_id is None:
                return _plaid_error(
                    400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "access token unknown"
                )
            if item_id in state.broken:
                return login_required()
            institution_id, item_accounts = state.items[item_id]
            day = state.as_of.get(item_id)
            said: dict[str, Any] = {
                "accounts": [_as_of(account, day) for account in item_accounts],
                "item": {"item_id": item_id, "institution_id": institution_id},
            }
            if with_liabilities:
                owed = state.liabilities.get(item_id, {})
                said["liabilities"] = {
                    kind: [_dated(one) for one in owed.get(kind, [])] for kind in LIABILITY_KINDS
                }
        return _json({**said, "request_id": secrets.token_hex(8)})

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
                return _plaid_error(
                    400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "access token unknown"
                )
            for kept in (state.items, state.webhooks, state.as_of, state.liabilities):
                kept.pop(item_id, None)
            state.broken.discard(item_id)
        return _json({"request_id": secrets.token_hex(8)})

    @app.post("/sandbox/item/login/update")
    def update_login() -> Response:
        asked = body()
        options = asked.get("options")
        options = options if isinstance(options, dict) else {}
        with state.lock:
            item_id = state.access_tokens.get(str(asked.get("access_token")))
            if item_id is None:
                return _plaid_error(
                    400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "access token unknown"
                )
            if options.get("override_password") != GOOD_PASSWORD:
                return _plaid_error(
                    400,
                    "ITEM_ERROR",
                    "INVALID_CREDENTIALS",
                    "the provided credentials were not correct",
                )
            state.broken.discard(item_id)
        return _json({"item_id": item_id, "request_id": secrets.token_hex(8)})

    @app.post("/sandbox/admin/items/<item_id>/reset-login")
    def reset_login(item_id: str) -> Response:
        with state.lock:
            if item_id not in state.items:
                return _plaid_error(404, "INVALID_INPUT", "ITEM_NOT_FOUND", "no such item")
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
                return _plaid_error(404, "INVALID_INPUT", "ITEM_NOT_FOUND", "no such item")
            state.items[item_id] = (state.items[item_id][0], accounts)
        return Response(status=204)

    @app.put("/sandbox/admin/items/<item_id>/liabilities")
    def set_liabilities(item_id: str) -> Response:
        owed = json_body()
        if not isinstance(owed, dict) or not set(owed) <= set(LIABILITY_KINDS):
            return invalid(f"send Plaid's liabilities object: {', '.join(LIABILITY_KINDS)}")
        with state.lock:
            if item_id not in state.items:
                return _plaid_error(404, "INVALID_INPUT", "ITEM_NOT_FOUND", "no such item")
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
                return _plaid_error(404, "INVALID_INPUT", "ITEM_NOT_FOUND", "no such item")
            if day is None:
                state.as_of.pop(item_id, None)
            else:
                state.as_of[item_id] = day
        return Response(status=204)

    @app.get("/sandbox/admin/items")
    def items() -> Response:
        with state.lock:
            return _json({item_id: linked[0] for item_id, linked in state.items.items()})

    @app.post("/sandbox/admin/items/<item_id>/webhook")
    def send_webhook(item_id: str) -> Response:
        asked = body()
        with state.lock:
            if item_id not in state.items:
                return _plaid_error(404, "INVALID_INPUT", "ITEM_NOT_FOUND", "no such item")
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
            return _plaid_error(502, "API_ERROR", "WEBHOOK_UNDELIVERED", str(error))
        return _json({"receiver_status": status})

    return app


def _as_of(account: dict[str, Any], day: date | None) -> dict[str, Any]:
    """The account as reported on `day` (None: as it is)."""
    if day is None:
        return account
    balances = dict(account["balances"])
    reported = balances.get("last_updated_datetime")
    now = datetime.fromisoformat(reported).date() if reported else datetime.now(UTC).date()
    share = 1 - PAST_GROWTH * (now - day).days / 365
    for key in ("available", "current"):
        if balances.get(key) is not None:
            balances[key] = (Decimal(balances[key]) * share).quantize(Decimal("0.01"))
    balances["last_updated_datetime"] = f"{day.isoformat()}T12:00:00+00:00"
    return {**account, "balances": balances}


def _dated(liability: dict[str, Any]) -> dict[str, Any]:
    """`liability` with each date given as a number of days from today made a date."""
    today = datetime.now(UTC).date()
    return {
        key: (today + timedelta(days=value)).isoformat()
        if key.endswith("_date") and isinstance(value, int)
        else value
        for key, value in liability.items()
    }


def load_data(path: Path) -> dict[str, Any]:
    data = loads_exact(path.read_bytes())
    if not isinstance(data, dict) or not isinstance(data.get("institutions"), dict):
        raise ValueError(f"{path}: must hold an object with an `institutions` object")
    return data
