"""The adapter for the provider sandbox (`accounts-service provider-sandbox`), over HTTP.

The sandbox speaks Plaid's shapes, so this is the code a Plaid adapter would be: a pooled client
with connect and read timeouts, Plaid's error objects turned into ProviderError, and its account
objects read with exact amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from app.adapters.exact_json import dumps_bytes, loads_exact
from app.services.providers import (
    AccountIdentity,
    Balances,
    Liability,
    LinkedItem,
    LoginRequired,
    ProviderAccount,
    ProviderAdapter,
    ProviderError,
)


class SandboxProvider(ProviderAdapter):
    """`webhook_url`: where the provider is to send its notices about items linked from now on."""

    def __init__(
        self,
        base_url: str,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        webhook_url: str | None = None,
    ) -> None:
        self._webhook_url = webhook_url
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    def close(self) -> None:
        self._client.close()

    def exchange(self, institution_id: str, credentials: Mapping[str, str]) -> LinkedItem:
        """`credentials`: the `publicToken` of Plaid's Link step, or (the sandbox's stand-in for
        that step) a `username` and `password`."""
        public_token = credentials.get("publicToken")
        if not public_token:
            if not (credentials.get("username") and credentials.get("password")):
                raise ProviderError(
                    "INVALID_CREDENTIALS",
                    "credentials need a publicToken, or a username and a password",
                    retryable=False,
                )
            options = {
                "override_username": credentials["username"],
                "override_password": credentials["password"],
            }
            if self._webhook_url:
                options["webhook"] = self._webhook_url
            created = self._post(
                "/sandbox/public_token/create",
                {"institution_id": institution_id, "options": options},
            )
            public_token = created.get("public_token")
        try:
            answer = self._post("/item/public_token/exchange", {"public_token": public_token})
            institution = answer["institution_id"]
            found = self._post("/institutions/get_by_id", {"institution_id": institution})
            # What Plaid Link's metadata would say of the accounts, which tell logins apart.
            listed = self._post("/accounts/get", {"access_token": answer["access_token"]})
            return LinkedItem(
                answer["access_token"],
                answer["item_id"],
                institution,
                found["institution"]["name"],
                tuple(
                    AccountIdentity(raw.get("mask"), raw["name"], raw.get("persistent_account_id"))
                    for raw in listed["accounts"]
                ),
            )
        except (KeyError, TypeError) as error:
            raise _bad_answer(error) from None

    def remove(self, access_token: str) -> None:
        self._post("/item/remove", {"access_token": access_token})

    def repair(self, access_token: str, credentials: Mapping[str, str]) -> None:
        """The sandbox's stand-in for Plaid Link in update mode: the new `username` and
        `password` for the item the token reads."""
        options = {
            "override_username": credentials.get("username", ""),
            "override_password": credentials.get("password", ""),
        }
        self._post("/sandbox/item/login/update", {"access_token": access_token, "options": options})

    def accounts(self, access_token: str) -> list[ProviderAccount]:
        answer = self._post("/accounts/get", {"access_token": access_token})
        try:
            found = [_account(raw) for raw in answer["accounts"]]
            if not any(account.type in ("credit", "loan") for account in found):
                return found
            # What the cards and loans owe: Plaid's liabilities product, asked only when needed.
            owed = self._post("/liabilities/get", {"access_token": access_token})["liabilities"]
            by_account = {
                raw["account_id"]: _liability(kind, raw)
                for kind in ("credit", "mortgage", "student")
                for raw in owed.get(kind) or []
            }
            return [
                replace(account, liability=by_account.get(account.external_id)) for account in found
            ]
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise _bad_answer(error) from None

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        try:
            response = self._client.post(
                path, content=dumps_bytes(body), headers={"Content-Type": "application/json"}
            )
        except httpx.TimeoutException as error:
            raise ProviderError(
                "PROVIDER_TIMEOUT", str(error) or "timed out", retryable=True
            ) from None
        except httpx.TransportError as error:
            raise ProviderError("PROVIDER_UNREACHABLE", str(error), retryable=True) from None
        try:
            answer = loads_exact(response.content)
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return answer
        raise _error(response, answer)


def _bad_answer(error: Exception) -> ProviderError:
    # A provider answering nonsense is failing, as with a 5xx: it may be right next time.
    return ProviderError("PROVIDER_BAD_ANSWER", f"unreadable answer: {error!r}", retryable=True)


def _error(response: httpx.Response, answer: Any) -> ProviderError:
    known = answer if isinstance(answer, dict) else {}
    code = str(known.get("error_code") or f"HTTP_{response.status_code}")
    message = str(known.get("error_message") or response.reason_phrase)
    if code == "ITEM_LOGIN_REQUIRED":
        return LoginRequired(message)
    retry_after = _seconds(response.headers.get("Retry-After"))
    # A rate limit or the provider's own failure passes; anything else is the request's fault.
    retryable = response.status_code == 429 or response.status_code >= 500
    return ProviderError(code, message, retryable=retryable, retry_after=retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _account(raw: Mapping[str, Any]) -> ProviderAccount:
    balances = raw["balances"]
    updated = balances.get("last_updated_datetime")
    return ProviderAccount(
        external_id=raw["account_id"],
        name=raw["name"],
        official_name=raw.get("official_name"),
        mask=raw.get("mask"),
        type=raw["type"],
        subtype=raw.get("subtype"),
        balances=Balances(
            available=_amount(balances.get("available")),
            current=_amount(balances.get("current")),
            limit=_amount(balances.get("limit")),
            currency=balances.get("iso_currency_code"),
            as_of=datetime.fromisoformat(updated) if updated else None,
        ),
    )


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _liability(kind: str, raw: Mapping[str, Any]) -> Liability:
    """Plaid's liability object of a `kind` (credit, mortgage or student) as ours."""
    paid: dict[str, Any] = {
        "last_payment_amount": _amount(raw.get("last_payment_amount")),
        "last_payment_date": _day(raw.get("last_payment_date")),
        "next_payment_due_date": _day(raw.get("next_payment_due_date")),
    }
    if kind == "credit":
        aprs = {
            apr["apr_type"]: _amount(apr.get("apr_percentage")) for apr in raw.get("aprs") or []
        }
        return Liability(
            purchase_apr=aprs.get("purchase_apr"),
            cash_advance_apr=aprs.get("cash_apr"),
            balance_transfer_apr=aprs.get("balance_transfer_apr"),
            last_statement_balance=_amount(raw.get("last_statement_balance")),
            last_statement_date=_day(raw.get("last_statement_issue_date")),
            minimum_payment=_amount(raw.get("minimum_payment_amount")),
            is_overdue=raw.get("is_overdue"),
            **paid,
        )
    if kind == "mortgage":
        rate = raw.get("interest_rate") or {}
        past_due = _amount(raw.get("past_due_amount"))
        return Liability(
            interest_rate=_amount(rate.get("percentage")),
            next_payment_amount=_amount(raw.get("next_monthly_payment")),
            is_overdue=None if past_due is None else past_due > 0,
            origination_date=_day(raw.get("origination_date")),
            origination_principal=_amount(raw.get("origination_principal_amount")),
            expected_payoff_date=_day(raw.get("maturity_date")),
            escrow_balance=_amount(raw.get("escrow_balance")),
            **paid,
        )
    return Liability(
        interest_rate=_amount(raw.get("interest_rate_percentage")),
        next_payment_amount=_amount(raw.get("minimum_payment_amount")),
        is_overdue=raw.get("is_overdue"),
        origination_date=_day(raw.get("origination_date")),
        origination_principal=_amount(raw.get("origination_principal_amount")),
        expected_payoff_date=_day(raw.get("expected_payoff_date")),
        **paid,
    )
