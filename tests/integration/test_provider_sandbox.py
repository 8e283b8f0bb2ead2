"""The provider sandbox, started as its command, and the adapter that speaks to it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.adapters.providers.sandbox import SandboxProvider
from app.services.providers import LinkedItem, LoginRequired, ProviderError


@pytest.fixture
def provider(sandbox_url: str) -> Iterator[SandboxProvider]:
    adapter = SandboxProvider(sandbox_url, read_timeout=1.0)
    yield adapter
    adapter.close()


def admin(sandbox_url: str, method: str, path: str, body: Any) -> None:
    response = httpx.request(method, f"{sandbox_url}{path}", json=body, timeout=5)
    assert response.status_code == 204, response.text


def link(sandbox_url: str, provider: SandboxProvider, institution: str) -> LinkedItem:
    """What a user's link step and the service's exchange do together."""
    created = httpx.post(
        f"{sandbox_url}/sandbox/public_token/create", json={"institution_id": institution}
    )
    return provider.exchange(institution, {"publicToken": created.json()["public_token"]})


@pytest.fixture(autouse=True)
def no_fault(sandbox_url: str) -> Iterator[None]:
    yield
    admin(sandbox_url, "POST", "/sandbox/admin/fault", {"kind": None})


def test_a_linked_item_answers_its_accounts_with_exact_balances(
    sandbox_url: str, provider: SandboxProvider
) -> None:
    item = link(sandbox_url, provider, "ins_platypus")
    assert (item.institution_id, item.institution_name) == ("ins_platypus", "First Platypus Bank")
    found = {account.external_id: account for account in provider.accounts(item.access_token)}
    assert list(found) == [
        "plat-checking-0000",
        "plat-savings-1111",
        "plat-credit-3333",
        "plat-student-7777",
    ]
    checking = found["plat-checking-0000"]
    assert (checking.type, checking.subtype, checking.mask) == ("depository", "checking", "0000")
    assert checking.balances.current == Decimal("1250.17")
    assert checking.balances.available == Decimal("1203.42")
    assert checking.balances.currency == "USD"
    assert checking.balances.as_of == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert found["plat-credit-3333"].balances.limit == Decimal(2000)
    # A public token is good for one exchange only.
    with pytest.raises(ProviderError) as refused:
        provider.exchange("ins_platypus", {"publicToken": "public-sandbox-unknown"})
    assert (refused.value.code, refused.value.retryable) == ("INVALID_PUBLIC_TOKEN", False)


def test_what_the_institution_says_can_change(sandbox_url: str, provider: SandboxProvider) -> None:
    item = link(sandbox_url, provider, "ins_tattersall")
    [ira] = provider.accounts(item.access_token)
    changed = {
        "account_id": ira.external_id,
        "balances": {"current": 400.01, "iso_currency_code": "USD"},
        "name": "Plaid IRA",
        "type": "investment",
        "subtype": "ira",
    }
    added = {**changed, "account_id": "tatt-new-9999", "name": "New", "subtype": "roth"}
    admin(sandbox_url, "PUT", f"/sandbox/admin/items/{item.item_id}/accounts", [changed, added])
    now = provider.accounts(item.access_token)
    assert [(account.external_id, account.balances.current) for account in now] == [
        ("tatt-ira-5555", Decimal("400.01")),
        ("tatt-new-9999", Decimal("400.01")),
    ]
    admin(sandbox_url, "PUT", f"/sandbox/admin/items/{item.item_id}/accounts", [])
    assert provider.accounts(item.access_token) == []


def test_an_item_can_be_reported_as_of_a_past_day(
    sandbox_url: str, provider: SandboxProvider
) -> None:
    item = link(sandbox_url, provider, "ins_tattersall")
    a_year_ago = datetime.now(UTC).date() - timedelta(days=365)
    as_of = f"/sandbox/admin/items/{item.item_id}/as-of"
    admin(sandbox_url, "PUT", as_of, {"date": a_year_ago.isoformat()})
    [ira] = provider.accounts(item.access_token)
    assert ira.balances.as_of == datetime.combine(a_year_ago, time(12), UTC)
    assert ira.balances.current == Decimal("288.68")  # 320.76 less 10 %
    admin(sandbox_url, "PUT", as_of, {"date": None})
    [ira] = provider.accounts(item.access_token)
    assert ira.balances.current == Decimal("320.76")
    for body, status in [
        ({"date": datetime.now(UTC).date().isoformat()}, 400),  # today is today's
        ({"date": "last year"}, 400),
    ]:
        assert httpx.put(f"{sandbox_url}{as_of}", json=body).status_code == status
    missing = httpx.put(f"{sandbox_url}/sandbox/admin/items/nope/as-of", json={"date": None})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("fault", "code", "retryable", "retry_after"),
    [
        ({"kind": "server_error"}, "INTERNAL_SERVER_ERROR", True, None),
        ({"kind": "rate_limited", "seconds": 7}, "RATE_LIMIT", True, 7.0),
        ({"kind": "slow", "seconds": 2}, "PROVIDER_TIMEOUT", True, None),
        ({"kind": "login_required"}, "ITEM_LOGIN_REQUIRED", False, None),
    ],
)
def test_each_fault_is_an_error_that_says_whether_to_retry(
    sandbox_url: str,
    provider: SandboxProvider,
    fault: dict[str, Any],
    code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    item = link(sandbox_url, provider, "ins_tattersall")
    admin(sandbox_url, "POST", "/sandbox/admin/fault", {**fault, "times": 1})
    with pytest.raises(ProviderError) as failed:
        provider.accounts(item.access_token)
    assert (failed.value.code, failed.value.retryable) == (code, retryable)
    assert failed.value.retry_after == retry_after
    assert isinstance(failed.value, LoginRequired) is (code == "ITEM_LOGIN_REQUIRED")
    # `times: 1`: the next call is answered again.
    assert len(provider.accounts(item.access_token)) == 1


def test_bad_tokens_and_credentials_are_not_worth_retrying(provider: SandboxProvider) -> None:
    with pytest.raises(ProviderError) as refused:
        provider.accounts("access-sandbox-unknown")
    assert (refused.value.code, refused.value.retryable) == ("INVALID_ACCESS_TOKEN", False)
    for credentials in [{"username": "someone"}, {"username": "user_good", "password": "wrong"}]:
        with pytest.raises(ProviderError) as refused:
            provider.exchange("ins_platypus", credentials)
        assert (refused.value.code, refused.value.retryable) == ("INVALID_CREDENTIALS", False)


def test_sandbox_credentials_link_an_item_in_one_step(provider: SandboxProvider) -> None:
    item = provider.exchange("ins_tattersall", {"username": "user_good", "password": "pass_good"})
    assert item.institution_name == "Tattersall Federal Credit Union"
    assert [found.external_id for found in provider.accounts(item.access_token)] == [
        "tatt-ira-5555"
    ]


def test_a_provider_that_cannot_be_reached_is_worth_retrying() -> None:
    unreachable = SandboxProvider("http://127.0.0.1:9", connect_timeout=1)
    try:
        with pytest.raises(ProviderError) as failed:
            unreachable.accounts("access-sandbox-any")
        assert (failed.value.code, failed.value.retryable) == ("PROVIDER_UNREACHABLE", True)
    finally:
        unreachable.close()


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/accounts/get", b"{not json"),
        ("PUT", "/sandbox/admin/items/nope/accounts", b"[1,"),
        ("GET", "/nowhere", b""),
        ("GET", "/accounts/get", b""),
    ],
)
def test_bad_requests_get_plaids_error_object_not_a_page(
    sandbox_url: str, method: str, path: str, content: bytes
) -> None:
    response = httpx.request(method, f"{sandbox_url}{path}", content=content, timeout=5)
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error_code"]
