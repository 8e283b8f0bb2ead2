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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app.adapters.exact_json import loads_exact
from app.entrypoints.provider_sandbox.admin import add_admin_routes
from app.entrypoints.provider_sandbox.answers import plaid_error
from app.entrypoints.provider_sandbox.plaid import add_plaid_routes
from app.entrypoints.provider_sandbox.state import SandboxState

DEFAULT_DATA = Path(__file__).parent.with_name("provider_sandbox.json")


def create_sandbox(data: Mapping[str, Any], webhook_secret: str | None = None) -> Flask:
    state = SandboxState({key: dict(value) for key, value in data["institutions"].items()})
    app = Flask(__name__)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Plaid's error object for everything it answers, never an HTML page.
        status = error.code or 500
        return plaid_error(status, "INVALID_REQUEST", f"HTTP_{status}", str(error.description))

    add_plaid_routes(app, state)
    add_admin_routes(app, state, webhook_secret)
    return app


def load_data(path: Path) -> dict[str, Any]:
    data = loads_exact(path.read_bytes())
    if not isinstance(data, dict) or not isinstance(data.get("institutions"), dict):
        raise ValueError(f"{path}: must hold an object with an `institutions` object")
    return data
