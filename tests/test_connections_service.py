"""Linking and syncing, through the real sandbox over HTTP, into the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from cryptography.fernet import Fernet

from app.config import ConfigurationError
from app.domain import AccountStatus, ConnectionStatus, SyncFailure
from app.providers.base import LoginRequired, ProviderError
from app.providers.sandbox import SandboxProvider
from app.repositories.base import SyncOutcome
from app.repositories.memory import InMemoryAccountRepository
from app.sealing import InvalidToken, TokenSeal
from app.services import connections

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryAccountRepository:
    return InMemoryAccountRepository({"u1": []})


@pytest.fixture
def provider(sandbox_url: str) -> Iterator[SandboxProvider]:
    adapter = SandboxProvider(sandbox_url, read_timeout=1.0)
    yield adapter
    adapter.close()
    httpx.post(f"{sandbox_url}/sandbox/admin/fault", json={"kind": None})


@pytest.fixture
def seal() -> TokenSeal:
    return TokenSeal(Fernet.generate_key().decode())


def public_token(sandbox_url: str, institution: str = "ins_platypus") -> str:
    answer = httpx.post(
        f"{sandbox_url}/sandbox/public_token/create", json={"institution_id": institution}
    )
    token: str = answer.json()["public_token"]
    return token


def test_link_keeps_only_the_sealed_token_and_sync_brings_the_accounts(
    sandbox_url: str, store: InMemoryAccountRepository, provider: SandboxProvider, seal: TokenSeal
) -> None:
    credentials = {"publicToken": public_token(sandbox_url)}
    linked = connections.link(store, provider, seal, "u1", "sandbox", credentials)
    assert (linked.status, linked.institution_name) == (
        ConnectionStatus.SYNCING,
        "First Platypus Bank",
    )
    assert "access-sandbox" not in linked.sealed_token  # sealed, not in clear
    assert seal.unseal(linked.sealed_token).startswith("access-sandbox-")

    outcome = connections.sync(store, store, provider, seal, "u1", linked.id, NOW)
    assert outcome == SyncOutcome(4, 0, 0)
    synced = store.list_accounts("u1")
    assert {account.connection_id for account in synced} == {linked.id}
    assert synced[0].balance == Decimal("1250.17")
    assert synced[0].provider == "First Platypus Bank"
    healthy = store.get_connection("u1", linked.id)
    assert (healthy.status, healthy.last_successful_sync, healthy.error) == (
        ConnectionStatus.HEALTHY,
        NOW,
        None,
    )
    # Delivered again: nothing changes.
    assert connections.sync(store, store, provider, seal, "u1", linked.id, NOW) == SyncOutcome(
        0, 0, 0
    )


def test_a_login_required_fault_shows_on_the_connection_and_accounts_stay(
    sandbox_url: str, store: InMemoryAccountRepository, provider: SandboxProvider, seal: TokenSeal
) -> None:
    linked = connections.link(
        store, provider, seal, "u1", "sandbox", {"publicToken": public_token(sandbox_url)}
    )
    connections.sync(store, store, provider, seal, "u1", linked.id, NOW)
    httpx.post(f"{sandbox_url}/sandbox/admin/fault", json={"kind": "login_required"})
    with pytest.raises(LoginRequired):
        connections.sync(store, store, provider, seal, "u1", linked.id, NOW)
    shown = store.get_connection("u1", linked.id)
    assert shown.status is ConnectionStatus.LOGIN_REQUIRED
    assert shown.error is not None
    assert shown.error.code == "ITEM_LOGIN_REQUIRED"
    assert shown.last_failed_sync == NOW
    assert shown.last_successful_sync == NOW  # the last good one stays known
    assert all(account.status is AccountStatus.OPEN for account in store.list_accounts("u1"))


def test_a_passing_failure_keeps_syncing_and_giving_up_shows_error(
    sandbox_url: str, store: InMemoryAccountRepository, provider: SandboxProvider, seal: TokenSeal
) -> None:
    linked = connections.link(
        store, provider, seal, "u1", "sandbox", {"publicToken": public_token(sandbox_url)}
    )
    httpx.post(f"{sandbox_url}/sandbox/admin/fault", json={"kind": "server_error"})
    with pytest.raises(ProviderError) as failed:
        connections.sync(store, store, provider, seal, "u1", linked.id, NOW)
    assert store.get_connection("u1", linked.id).status is ConnectionStatus.SYNCING
    given_up = connections.give_up(store, "u1", linked.id, failed.value, NOW)
    assert given_up.status is ConnectionStatus.ERROR
    assert given_up.error == SyncFailure("INTERNAL_SERVER_ERROR", "the sandbox failed, as asked")
    assert store.list_accounts("u1") == []


def test_a_refused_link_keeps_nothing(
    store: InMemoryAccountRepository, provider: SandboxProvider, seal: TokenSeal
) -> None:
    with pytest.raises(ProviderError):
        connections.link(store, provider, seal, "u1", "sandbox", {"publicToken": "made-up"})
    assert store.list_connections("u1") == []


def test_a_token_sealed_under_another_key_does_not_open_and_a_bad_key_stops_start_up() -> None:
    sealed = TokenSeal(Fernet.generate_key().decode()).seal("access-sandbox-x")
    with pytest.raises(InvalidToken):
        TokenSeal(Fernet.generate_key().decode()).unseal(sealed)
    with pytest.raises(ConfigurationError, match="Fernet key"):
        TokenSeal("not-a-key")
