"""Connections, sync jobs and webhooks over HTTP, through the Flask test client, with jobs on the
service's own threads (no broker) and the real provider sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from app import create_app
from app.adapters.webhooks import SIGNATURE_HEADER, signature
from app.entrypoints.http.context import components_of
from app.entrypoints.provider_sandbox import DEFAULT_DATA
from tests.waiting import eventually

SECRET = "webhook-secret-for-tests"
GOOD = {"username": "user_good", "password": "pass_good"}


@pytest.fixture
def app(sandbox_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "PROVIDER_SANDBOX_URL": sandbox_url,
            "WEBHOOK_SECRET": SECRET,
            "SYNC_RETRY_BASE_SECONDS": 0.05,
            "SYNC_MAX_ATTEMPTS": 2,
        }
    )
    yield app
    app.extensions["accounts-service"].close()
    httpx.post(f"{sandbox_url}/sandbox/admin/fault", json={"kind": None})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def finished_job(client: FlaskClient, location: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(location).get_json()
        return job if job["status"] in ("succeeded", "failed") else None

    found: dict[str, Any] = eventually(finished)
    return found


def link(
    client: FlaskClient, sandbox_url: str, institution: str = "ins_platypus"
) -> tuple[dict[str, Any], str]:
    """Links, and answers the connection and the sandbox's item id for it."""
    before = set(httpx.get(f"{sandbox_url}/sandbox/admin/items").json())
    answer = client.post(
        "/users/user123/connections",
        json={"provider": "sandbox", "institutionId": institution, "credentials": GOOD},
    )
    assert answer.status_code == 201, answer.get_json()
    [item_id] = set(httpx.get(f"{sandbox_url}/sandbox/admin/items").json()) - before
    return answer.get_json(), item_id


def linked_and_synced(client: FlaskClient, sandbox_url: str) -> tuple[dict[str, Any], str, str]:
    """Links, and waits out the first sync: the connection, the sandbox's item id for it, and
    the connection's path."""
    connection, item_id = link(client, sandbox_url)
    assert finished_job(client, f"/users/user123/sync-jobs/{connection['syncJobId']}")
    return connection, item_id, f"/users/user123/connections/{connection['id']}"


def synced_accounts(client: FlaskClient, connection_id: str) -> list[dict[str, Any]]:
    accounts = client.get("/users/user123/accounts").get_json()["accounts"]
    return [account for account in accounts if account["connectionId"] == connection_id]


def test_link_sync_change_refresh_and_unlink(client: FlaskClient, sandbox_url: str) -> None:
    connection, item_id = link(client, sandbox_url)
    assert connection["status"] == "syncing"
    assert connection["institutionName"] == "First Platypus Bank"
    assert set(connection) == {
        "id",
        "provider",
        "institutionId",
        "institutionName",
        "status",
        "lastSuccessfulSync",
        "lastFailedSync",
        "error",
        "accountCount",
        "syncJobId",
        "stale",
        "consentExpiresAt",
        "newAccountsAvailable",
    }
    first_job = client.get(f"/users/user123/sync-jobs/{connection['syncJobId']}").get_json()
    assert first_job["connectionId"] == connection["id"]
    location = f"/users/user123/connections/{connection['id']}"
    healthy = eventually(
        lambda: (found := client.get(location).get_json())["status"] == "healthy" and found
    )
    assert healthy["accountCount"] == 4
    assert healthy["lastSuccessfulSync"].endswith("Z") or "+00:00" in healthy["lastSuccessfulSync"]

    accounts = synced_accounts(client, connection["id"])
    assert [account["externalId"] for account in accounts] == [
        "plat-checking-0000",
        "plat-savings-1111",
        "plat-credit-3333",
        "plat-student-7777",
    ]
    checking = accounts[0]
    assert (checking["type"], checking["balance"], checking["status"]) == (
        "checking",
        Decimal("1250.17"),
        "open",
    )
    assert checking["balanceAsOf"].startswith("2026-11-25T08:00:00")
    cached = client.get("/users/user123/accounts")  # cached from here on

    # The institution changes: the checking balance moves, the savings account goes, one is new.
    changed = httpx.get(f"{sandbox_url}/sandbox/admin/items").json()
    assert item_id in changed
    new_accounts = [
        {
            "account_id": "plat-checking-0000",
            "balances": {
                "available": 10,
                "current": 99.5,
                "limit": None,
                "iso_currency_code": "USD",
                "last_updated_datetime": "2026-11-25T09:30:00+00:00",
            },
            "mask": "0000",
            "name": "Plaid Checking",
            "official_name": None,
            "type": "depository",
            "subtype": "checking",
        },
        {
            "account_id": "plat-new-9999",
            "balances": {
                "available": None,
                "current": 5000,
                "limit": None,
                "iso_currency_code": "USD",
                "last_updated_datetime": None,
            },
            "mask": "9999",
            "name": "Brokerage",
            "official_name": None,
            "type": "investment",
            "subtype": "brokerage",
        },
    ]
    put = httpx.put(f"{sandbox_url}/sandbox/admin/items/{item_id}/accounts", json=new_accounts)
    assert put.status_code == 204
    refreshed = client.post(f"{location}/refresh")
    assert refreshed.status_code == 202
    job = finished_job(client, refreshed.headers["Location"])
    assert (job["status"], job["accountsAdded"], job["accountsUpdated"], job["accountsClosed"]) == (
        "succeeded",
        1,
        1,
        3,
    )
    after = client.get("/users/user123/accounts", headers={"If-None-Match": cached.headers["ETag"]})
    assert after.status_code == 200  # the cached list is not served: it changed
    by_external = {
        account["externalId"]: account for account in synced_accounts(client, connection["id"])
    }
    assert by_external["plat-checking-0000"]["balance"] == Decimal("99.5")
    assert by_external["plat-savings-1111"]["status"] == "closed"  # closed, never deleted
    assert by_external["plat-new-9999"]["type"] == "investment"

    assert client.delete(location).status_code == 204
    assert synced_accounts(client, connection["id"]) == []
    assert client.get(location).status_code == 404
    assert client.get(refreshed.headers["Location"]).status_code == 404


def test_a_refresh_while_one_is_unfinished_answers_that_one(
    client: FlaskClient, sandbox_url: str
) -> None:
    connection, _ = link(client, sandbox_url)
    location = f"/users/user123/connections/{connection['id']}"
    eventually(lambda: client.get(location).get_json()["status"] == "healthy")
    httpx.post(
        f"{sandbox_url}/sandbox/admin/fault", json={"kind": "slow", "seconds": 1, "times": 1}
    )
    first = client.post(f"{location}/refresh")
    second = client.post(f"{location}/refresh")
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    assert first.headers["Location"] == second.headers["Location"]
    assert finished_job(client, first.headers["Location"])["status"] == "succeeded"


@pytest.mark.parametrize(
    ("fault", "job_error", "connection_status"),
    [
        ({"kind": "login_required"}, "ITEM_LOGIN_REQUIRED", "login_required"),
        ({"kind": "server_error"}, "INTERNAL_SERVER_ERROR", "error"),
        ({"kind": "rate_limited", "seconds": 0}, "RATE_LIMIT", "error"),
    ],
)
def test_each_fault_shows_on_the_job_and_the_connection(
    client: FlaskClient,
    sandbox_url: str,
    fault: dict[str, Any],
    job_error: str,
    connection_status: str,
) -> None:
    connection, _ = link(client, sandbox_url)
    location = f"/users/user123/connections/{connection['id']}"
    eventually(lambda: client.get(location).get_json()["status"] == "healthy")
    httpx.post(f"{sandbox_url}/sandbox/admin/fault", json=fault)  # every call, until cleared
    job = finished_job(client, client.post(f"{location}/refresh").headers["Location"])
    assert (job["status"], job["error"]["code"]) == ("failed", job_error)
    shown = client.get(location).get_json()
    assert (shown["status"], shown["error"]["code"]) == (connection_status, job_error)
    assert shown["lastFailedSync"] is not None
    assert shown["lastSuccessfulSync"] is not None  # the last good one stays known
    assert len(synced_accounts(client, connection["id"])) == 4  # nothing lost


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"provider": "sandbox", "institutionId": "ins_platypus"}, 422, "invalid-body"),
        (
            {"provider": "plaid", "institutionId": "ins_platypus", "credentials": GOOD},
            422,
            "invalid-body",
        ),
        (
            {
                "provider": "sandbox",
                "institutionId": "ins_platypus",
                "credentials": {**GOOD, "password": "x"},
            },
            422,
            "link-refused",
        ),
        (
            {"provider": "sandbox", "institutionId": "ins_nowhere", "credentials": GOOD},
            422,
            "link-refused",
        ),
        (
            {
                "provider": "sandbox",
                "institutionId": "ins_platypus",
                "credentials": {"username": 5},
            },
            422,
            "invalid-body",
        ),
    ],
)
def test_bad_links_are_clear_problems_and_keep_nothing(
    client: FlaskClient, body: dict[str, Any], status: int, slug: str
) -> None:
    answer = client.post("/users/user123/connections", json=body)
    assert answer.status_code == status
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["type"].endswith(slug)
    assert "pass_good" not in answer.get_data(as_text=True)
    assert client.get("/users/user123/connections").get_json()["connections"] == []


def test_missing_things_are_404s(client: FlaskClient) -> None:
    for method, path in [
        ("POST", "/users/nobody/connections"),
        ("GET", "/users/nobody/connections"),
        ("GET", "/users/user123/connections/nope"),
        ("DELETE", "/users/user123/connections/nope"),
        ("POST", "/users/user123/connections/nope/refresh"),
        ("GET", "/users/user123/sync-jobs/nope"),
    ]:
        body = {"provider": "sandbox", "institutionId": "ins_platypus", "credentials": GOOD}
        takes_body = path.endswith("/connections") and method == "POST"
        answer = client.open(path, method=method, json=body if takes_body else None)
        assert answer.status_code == 404, (method, path)
        assert answer.content_type == "application/problem+json"


def test_a_refresh_refuses_a_body_as_every_route_does(
    client: FlaskClient, sandbox_url: str
) -> None:
    connection, _ = link(client, sandbox_url)
    refresh = f"/users/user123/connections/{connection['id']}/refresh"
    refused = [
        (b"x" * 70_000, "text/plain", 413),
        (b"x" * 70_000, "application/json", 413),
        (b"refresh please", "text/plain", 415),
        (b"{", "application/json", 400),
        (b'{"force": true}', "application/json", 422),
        (b"[]", "application/json", 422),
    ]
    for body, media, status in refused:
        answer = client.post(refresh, data=body, content_type=media)
        assert (answer.status_code, answer.mimetype) == (status, "application/problem+json"), (
            body[:20],
            media,
        )
    # Nothing, or an empty object, is no body.
    assert client.post(refresh).status_code == 202
    assert client.post(refresh, data=b"{}", content_type="application/json").status_code == 202
    # So it is for every write that takes none.
    gone = client.delete(
        f"/users/user123/connections/{connection['id']}", data=b"why", content_type="text/plain"
    )
    assert gone.status_code == 415
    assert client.get(f"/users/user123/connections/{connection['id']}").status_code == 200


def signed(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, int(time.time() if at is None else at), body),
    }


def test_webhooks_must_be_signed_recent_and_new(client: FlaskClient, sandbox_url: str) -> None:
    connection, item_id = link(client, sandbox_url)
    location = f"/users/user123/connections/{connection['id']}"
    eventually(lambda: client.get(location).get_json()["status"] == "healthy")
    notice = json.dumps(
        {
            "webhook_type": "ITEM",
            "webhook_code": "ERROR",
            "item_id": item_id,
            "error": {"error_code": "ITEM_LOGIN_REQUIRED"},
        }
    ).encode()
    refused = [
        {"Content-Type": "application/json"},  # unsigned
        signed(notice, secret="another-secret"),
        {**signed(notice), SIGNATURE_HEADER: "t=1,v1=00"},
        signed(notice, at=time.time() - 3600),  # stale
        signed(notice, at=time.time() + 3600),  # from the future
        {**signed(notice), SIGNATURE_HEADER: "garbage"},
    ]
    for headers in refused:
        answer = client.post("/webhooks/sandbox", data=notice, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.content_type == "application/problem+json"
    # A body changed after signing is refused too.
    tampered = client.post(
        "/webhooks/sandbox", data=notice.replace(b"ERROR", b"OTHER"), headers=signed(notice)
    )
    assert tampered.status_code == 401
    assert client.get(location).get_json()["status"] == "healthy"  # nothing changed

    headers = signed(notice)
    accepted = client.post("/webhooks/sandbox", data=notice, headers=headers)
    assert (accepted.status_code, accepted.get_json()) == (200, {"action": "login_required"})
    assert client.get(location).get_json()["status"] == "login_required"
    # The same delivery again (a replay) changes nothing, even after the state moved on.
    client.post(f"{location}/refresh")
    replay = client.post("/webhooks/sandbox", data=notice, headers=headers)
    assert replay.status_code == 401

    update = json.dumps(
        {"webhook_type": "TRANSACTIONS", "webhook_code": "DEFAULT_UPDATE", "item_id": item_id}
    ).encode()
    answer = client.post("/webhooks/sandbox", data=update, headers=signed(update))
    assert answer.get_json() == {"action": "refresh"}
    eventually(lambda: client.get(location).get_json()["status"] == "healthy")
    unknown = json.dumps(
        {"webhook_type": "ITEM", "webhook_code": "DEFAULT_UPDATE", "item_id": "item-unknown"}
    ).encode()
    assert client.post("/webhooks/sandbox", data=unknown, headers=signed(unknown)).get_json() == {
        "action": "ignored"
    }
    bad = b'{"webhook_type": "ITEM"}'
    assert client.post("/webhooks/sandbox", data=bad, headers=signed(bad)).status_code == 422


def test_without_a_secret_every_webhook_is_refused(sandbox_url: str) -> None:
    app = create_app({"PROVIDER_SANDBOX_URL": sandbox_url})
    notice = b'{"webhook_type": "ITEM", "webhook_code": "DEFAULT_UPDATE", "item_id": "x"}'
    answer = app.test_client().post("/webhooks/sandbox", data=notice, headers=signed(notice))
    assert answer.status_code == 401
    app.extensions["accounts-service"].close()


def test_without_a_provider_linking_says_none_is_configured() -> None:
    client = create_app().test_client()
    answer = client.post(
        "/users/user123/connections",
        json={"provider": "sandbox", "institutionId": "ins_platypus", "credentials": GOOD},
    )
    assert answer.status_code == 422
    assert "none" in answer.get_json()["errors"][0]["detail"]


def test_syncs_of_past_days_build_the_history(client: FlaskClient, sandbox_url: str) -> None:
    connection, item_id, location = linked_and_synced(client, sandbox_url)
    for day in ("2026-09-01", "2026-10-01", None):  # oldest first, then today's again
        told = httpx.put(f"{sandbox_url}/sandbox/admin/items/{item_id}/as-of", json={"date": day})
        assert told.status_code == 204
        job = finished_job(client, client.post(f"{location}/refresh").headers["Location"])
        assert job["status"] == "succeeded"
    checking = synced_accounts(client, connection["id"])[0]
    series = client.get(f"/users/user123/accounts/{checking['id']}/balances?from=2026-08-01")
    points = {point["date"]: point["balance"] for point in series.get_json()["points"]}
    # 1,250.17 as of the data's 2026-11-25; 10 % a year lower, in proportion, before it.
    expected = {
        "2026-09-01": Decimal("1221.06"),  # 85 days before
        "2026-09-30": Decimal("1221.06"),
        "2026-10-01": Decimal("1231.33"),  # 55 days before
        "2026-11-25": Decimal("1250.17"),
        datetime.now(UTC).date().isoformat(): Decimal("1250.17"),
    }
    assert {day: points[day] for day in expected} == expected
    assert min(points) == "2026-09-01"  # none before the first sync
    net_worth = client.get("/users/user123/net-worth?from=2026-08-01").get_json()["points"]
    assert net_worth[0]["date"] == "2026-09-01"


def test_a_sync_brings_what_the_cards_and_loans_owe(client: FlaskClient, sandbox_url: str) -> None:
    connection, item_id, _ = linked_and_synced(client, sandbox_url)
    synced = {a["externalId"]: a for a in synced_accounts(client, connection["id"])}
    today = datetime.now(UTC).date()
    card = synced["plat-credit-3333"]["details"]
    assert card == {
        "creditLimit": 2000,
        "availableCredit": Decimal("1589.75"),
        "apr": Decimal("15.24"),
        "dueDate": (today + timedelta(days=12)).isoformat(),
        "cashAdvanceApr": Decimal("27.95"),
        "balanceTransferApr": 0,
        "lastStatementBalance": Decimal("410.25"),
        "lastStatementDate": (today - timedelta(days=9)).isoformat(),
        "minimumPayment": 25,
        "lastPaymentAmount": 168,
        "lastPaymentDate": (today - timedelta(days=14)).isoformat(),
        "isOverdue": False,
    }
    student = synced["plat-student-7777"]["details"]
    assert (student["interestRate"], student["nextPaymentAmount"]) == (
        Decimal("5.25"),
        Decimal("655.13"),
    )
    assert (student["originationDate"], student["originationPrincipal"]) == ("2016-09-01", 70000)
    payments = client.get("/users/user123/payments?within=30").get_json()["payments"]
    assert [(p["accountName"], p["dueDate"], p["overdue"]) for p in payments] == [
        ("Plaid Credit Card", (today + timedelta(days=12)).isoformat(), False),
        ("Plaid Student Loan", (today + timedelta(days=20)).isoformat(), False),
    ]
    # The bank says the card is overdue now: the next sync says so too.
    overdue = {
        "credit": [
            {
                "account_id": "plat-credit-3333",
                "is_overdue": True,
                "next_payment_due_date": -2,
                "minimum_payment_amount": 60,
            }
        ]
    }
    told = httpx.put(f"{sandbox_url}/sandbox/admin/items/{item_id}/liabilities", json=overdue)
    assert told.status_code == 204
    location = f"/users/user123/connections/{connection['id']}/refresh"
    assert finished_job(client, client.post(location).headers["Location"])["status"] == "succeeded"
    [late] = [
        p for p in client.get("/users/user123/payments").get_json()["payments"] if p["overdue"]
    ]
    assert (late["dueDate"], late["minimumPayment"]) == (
        (today - timedelta(days=2)).isoformat(),
        60,
    )


def webhook(client: FlaskClient, item_id: str, code: str, **more: Any) -> str:
    notice = json.dumps({"webhook_type": "ITEM", "webhook_code": code, "item_id": item_id, **more})
    answer = client.post("/webhooks/sandbox", data=notice, headers=signed(notice.encode()))
    assert answer.status_code == 200, answer.get_json()
    action: str = answer.get_json()["action"]
    return action


def test_update_mode_repairs_the_same_connection_keeping_its_accounts_and_history(
    client: FlaskClient, sandbox_url: str
) -> None:
    connection, item_id, location = linked_and_synced(client, sandbox_url)
    before = synced_accounts(client, connection["id"])
    checking = before[0]["id"]
    history = client.get(f"/users/user123/accounts/{checking}/balances?from=2026-01-01").data
    # The bank wants a new login: the next sync says so.
    httpx.post(f"{sandbox_url}/sandbox/admin/items/{item_id}/reset-login")
    failed = finished_job(client, client.post(f"{location}/refresh").headers["Location"])
    assert (failed["status"], failed["error"]["code"]) == ("failed", "ITEM_LOGIN_REQUIRED")
    assert client.get(location).get_json()["status"] == "login_required"
    # A wrong password is refused, and changes nothing.
    wrong = {"credentials": {"username": "user_good", "password": "nope"}}
    refused = client.post(f"{location}/login", json=wrong)
    assert (refused.status_code, refused.get_json()["type"].rsplit("/", 1)[1]) == (
        422,
        "link-refused",
    )
    assert client.get(location).get_json()["status"] == "login_required"
    # The good one repairs the same connection, and syncs it.
    repaired = client.post(f"{location}/login", json={"credentials": GOOD})
    assert repaired.status_code == 200, repaired.get_json()
    assert repaired.get_json()["id"] == connection["id"]
    job = finished_job(client, f"/users/user123/sync-jobs/{repaired.get_json()['syncJobId']}")
    assert job["status"] == "succeeded"
    assert client.get(location).get_json()["status"] == "healthy"
    assert [a["id"] for a in synced_accounts(client, connection["id"])] == [a["id"] for a in before]
    assert (
        client.get(f"/users/user123/accounts/{checking}/balances?from=2026-01-01").data == history
    )
    assert (
        client.post("/users/user123/connections/nope/login", json={"credentials": GOOD}).status_code
        == 404
    )
    webhook(client, item_id, "USER_PERMISSION_REVOKED")
    assert client.post(f"{location}/login", json={"credentials": GOOD}).status_code == 409


def test_a_connection_says_when_its_consent_ends_and_takes_new_accounts(
    client: FlaskClient, sandbox_url: str
) -> None:
    connection, item_id, location = linked_and_synced(client, sandbox_url)
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert webhook(client, item_id, "PENDING_EXPIRATION", consent_expiration_time=soon) == (
        "consent_expiring"
    )
    shown = client.get(location).get_json()
    assert (shown["status"], shown["consentExpiresAt"][:16]) == ("expiring", soon[:16])
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    webhook(client, item_id, "PENDING_EXPIRATION", consent_expiration_time=later)
    assert client.get(location).get_json()["status"] == "healthy"  # a month away: not yet
    # The bank has a new account: the notice syncs at once, and the sync takes it.
    accounts = json.loads(DEFAULT_DATA.read_text())["institutions"]["ins_platypus"]["accounts"]
    new = {**accounts[1], "account_id": "plat-cd-2222", "name": "Plaid CD", "mask": "2222"}
    told = httpx.put(f"{sandbox_url}/sandbox/admin/items/{item_id}/accounts", json=[*accounts, new])
    assert told.status_code == 204
    assert webhook(client, item_id, "NEW_ACCOUNTS_AVAILABLE") == "refresh"
    eventually(lambda: len(synced_accounts(client, connection["id"])) == 5)
    eventually(lambda: client.get(location).get_json()["newAccountsAvailable"] is False)
    # A broken login said repaired by the provider: healthy again, and synced.
    httpx.post(f"{sandbox_url}/sandbox/admin/items/{item_id}/reset-login")
    finished_job(client, client.post(f"{location}/refresh").headers["Location"])
    assert client.get(location).get_json()["status"] == "login_required"
    repaired_elsewhere = httpx.post(  # the sandbox repairs it as it says so, here unsent
        f"{sandbox_url}/sandbox/admin/items/{item_id}/webhook",
        json={"webhook_type": "ITEM", "webhook_code": "LOGIN_REPAIRED"},
    )
    assert repaired_elsewhere.status_code == 400  # linked without a webhook URL: not sent
    assert webhook(client, item_id, "LOGIN_REPAIRED") == "refresh"
    eventually(lambda: client.get(location).get_json()["status"] == "healthy")


def test_a_connection_unsynced_for_two_intervals_is_stale_and_counted(
    app: Flask, client: FlaskClient, sandbox_url: str
) -> None:
    connection, _, location = linked_and_synced(client, sandbox_url)
    assert client.get(location).get_json()["stale"] is False
    parts = components_of(app)
    long_ago = datetime.now(UTC) - timedelta(hours=3)  # the default interval is an hour
    parts.aggregation.connections.modify_connection(
        "user123", connection["id"], lambda found: replace(found, last_successful_sync=long_ago)
    )
    assert client.get(location).get_json()["stale"] is True
    assert parts.scheduler is not None
    parts.scheduler.count_stale()
    assert REGISTRY.get_sample_value("accounts_connections_stale") == 1


def test_the_same_login_linked_again_is_a_409_naming_its_connection(
    client: FlaskClient, sandbox_url: str
) -> None:
    for institution in ("ins_platypus", "ins_tattersall"):  # persistent ids; masks and names
        connection, _ = link(client, sandbox_url, institution)
        items = set(httpx.get(f"{sandbox_url}/sandbox/admin/items").json())
        again = client.post(
            "/users/user123/connections",
            json={"provider": "sandbox", "institutionId": institution, "credentials": GOOD},
        )
        assert again.status_code == 409, again.get_json()
        problem = again.get_json()
        assert problem["type"].endswith("/already-linked")
        assert problem["connectionId"] == connection["id"]
        assert "/login" in problem["detail"]
        # The provider's item for the refused link is let go of, not kept and billed.
        assert set(httpx.get(f"{sandbox_url}/sandbox/admin/items").json()) == items
    listed = client.get("/users/user123/connections").get_json()["connections"]
    assert len(listed) == 2
    # Another user may link the same login (a shared account): it is theirs.
    client.post("/users", json={"id": "partner"})
    theirs = client.post(
        "/users/partner/connections",
        json={"provider": "sandbox", "institutionId": "ins_platypus", "credentials": GOOD},
    )
    assert theirs.status_code == 201
