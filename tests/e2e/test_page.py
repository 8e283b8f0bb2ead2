"""The page at /, in a real browser: Debian's Chromium driven by Playwright, against live gunicorn
with sign-in on and the provider sandbox. It must show what the API answers, refresh a bank and
show its new balance, and say what went wrong in words. Its screenshots are the README's."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, sync_playwright

from app.adapters.tokens import mint_token
from app.entrypoints.provider_sandbox import DEFAULT_DATA
from harness import REPO_ROOT, children_of
from harness.gunicorn import serving
from tests.chromium import FLAGS, chromium
from tests.samples import valid_account

#: Where the screenshots go: the docs' own only when asked to renew them
#: (`RENEW_SCREENSHOTS=1`), so that a test run leaves the tracked files alone.
RENEW_SCREENSHOTS = os.environ.get("RENEW_SCREENSHOTS") == "1"
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
SECRET = secrets.token_hex(32)
LINK = {
    "provider": "sandbox",
    "institutionId": "ins_platypus",
    "credentials": {"username": "user_good", "password": "pass_good"},
}


def exact(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


def test_the_page_and_its_files_come_from_the_service_and_run_no_inline_script(
    client: FlaskClient,
) -> None:
    with client.get("/") as page:  # a file, streamed: closed once checked
        html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "<script>" not in html
    for asset in ("assets/page.js", "assets/page.css"):
        assert f'"{asset}"' in html
        with client.get(f"/{asset}") as served:
            assert served.status_code == 200, asset


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 900}, locale="en-US")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []  # no script error, whatever the test looked at


def shown_amount(page: Page, selector: str) -> tuple[Decimal, str]:
    """What an amount on the page holds exactly, and the text a person reads."""
    element = page.locator(selector)
    return Decimal(element.get_attribute("data-amount") or "nan"), element.inner_text()


def dollars(amount: Decimal) -> str:
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def wait_until_synced(url: str, headers: dict[str, str], connection: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        linked = httpx.get(f"{url}/users/user123/connections/{connection}", headers=headers)
        if linked.json()["status"] == "healthy":
            return
        time.sleep(0.1)
    raise AssertionError(f"the first sync never finished: {linked.json()}")


def test_a_person_sees_their_money_refreshes_a_bank_and_is_told_what_went_wrong(
    page: Page, sandbox_url: str, tmp_path: Path
) -> None:
    screenshots = DOCS_SCREENSHOTS if RENEW_SCREENSHOTS else tmp_path
    env = {
        "ACCOUNTS_AUTH": "jwt",
        "ACCOUNTS_JWT_SECRET": SECRET,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox_url,
    }
    token = mint_token("user123", SECRET)
    headers = {"Authorization": f"Bearer {token}"}
    with serving(env) as (url, _):
        items_before = set(httpx.get(f"{sandbox_url}/sandbox/admin/items").json())
        linked = httpx.post(
            f"{url}/users/user123/connections",
            json=LINK,
            headers=headers,
        )
        assert linked.status_code == 201, linked.text
        connection = linked.json()["id"]
        [item] = set(httpx.get(f"{sandbox_url}/sandbox/admin/items").json()) - items_before
        wait_until_synced(url, headers, connection)

        # Without a token, sign-in being on: the page says so, and what to do.
        page.goto(f"{url}/#user=user123")
        problem = page.locator("#problem")
        problem.wait_for()
        assert "Unauthorized" in page.locator("#problem-title").inner_text()
        assert "paste a bearer token for user123" in page.locator("#problem-hint").inner_text()
        assert page.locator("#accounts").is_hidden()
        page.screenshot(path=screenshots / "page-error.png", full_page=True)

        page.fill("input[name=token]", token)
        page.click("#who button[type=submit]")
        page.locator("#accounts").wait_for()
        assert problem.is_hidden()

        listed = exact(httpx.get(f"{url}/users/user123/accounts", headers=headers))["accounts"]
        summary = exact(httpx.get(f"{url}/users/user123/summary", headers=headers))
        # Every account, grouped by type in the page's order, each group in the list's order.
        order = ["checking", "savings", "credit", "loan", "investment"]
        expected = sorted(listed, key=lambda account: order.index(account["type"]))
        rows = page.locator("[data-account-id]")
        assert rows.evaluate_all("rows => rows.map(row => row.dataset.accountId)") == [
            account["id"] for account in expected
        ]
        for account in listed:
            row = f"[data-account-id='{account['id']}']"
            assert shown_amount(page, f"{row} .amount") == (
                account["balance"],
                dollars(account["balance"]),
            )
            name = page.locator(f"{row} strong").first.inner_text()
            assert name == (account["nickname"] or account["accountName"])
            if account["mask"]:
                assert page.locator(f"{row} .mask").inner_text() == f"•••• {account['mask']}"
            as_of = page.locator(f"{row} .as-of").inner_text()
            assert as_of.startswith("as of" if account["balanceAsOf"] else "entered by hand")
        [usd] = summary["currencies"]
        assert shown_amount(page, "[data-currency=USD] .net") == (
            usd["netWorth"],
            dollars(usd["netWorth"]),
        )
        bank = page.locator(f"[data-connection-id='{connection}']")
        assert bank.locator("[data-status]").get_attribute("data-status") == "healthy"

        # What is due: the API's payments, each with its amount and day, the overdue in words.
        due = exact(httpx.get(f"{url}/users/user123/payments?within=30", headers=headers))
        shown = page.locator("#payments li")
        assert shown.evaluate_all("rows => rows.map(row => row.dataset.paymentFor)") == [
            payment["accountId"] for payment in due["payments"]
        ]
        assert len(due["payments"]) == 2  # the bank's card and student loan
        for payment in due["payments"]:
            row = f"#payments [data-payment-for='{payment['accountId']}']"
            assert shown_amount(page, f"{row} .amount")[0] == payment["amountDue"]
            assert page.locator(f"{row} .due").get_attribute("data-date") == payment["dueDate"]
        assert page.locator("#payments .badge", has_text="Overdue").count() == 0

        # The bank's checking balance changes; a refresh on the page shows the job, then it.
        institution = json.loads(DEFAULT_DATA.read_text())
        accounts = institution["institutions"]["ins_platypus"]["accounts"]
        accounts[0]["balances"]["current"] = 4321.09
        changed = httpx.put(f"{sandbox_url}/sandbox/admin/items/{item}/accounts", json=accounts)
        assert changed.status_code == 204
        checking = next(
            account for account in listed if account.get("externalId") == accounts[0]["account_id"]
        )
        bank.locator("button.refresh").click()
        bank.locator(".progress", has_text="Synced: 1 updated, 0 added, 0 closed").wait_for()
        checking_amount = page.locator(f"[data-account-id='{checking['id']}'] .amount")
        checking_amount.filter(has_text="$4,321.09").wait_for()
        assert shown_amount(page, "[data-currency=USD] .net")[0] == usd["netWorth"] + (
            Decimal("4321.09") - checking["balance"]
        )
        page.screenshot(path=screenshots / "page.png", full_page=True)

        # The bank wants the person to sign in again: the row says so, in words.
        fault = {"kind": "login_required", "times": 1}
        assert httpx.post(f"{sandbox_url}/sandbox/admin/fault", json=fault).status_code == 204
        bank.locator("button.refresh").click()
        bank.locator(".progress", has_text="Sync failed:").wait_for()
        bank.locator(
            "[data-status=login_required]", has_text="Sign in again at the bank"
        ).wait_for()
        # Signed in again from the page (update mode): the same bank, synced, up to date.
        bank.locator(".sign-in-again button").click()
        bank.locator("[data-status=healthy]", has_text="Up to date").wait_for()
        assert page.locator(f"[data-connection-id='{connection}']").count() == 1

        # A name is shown as text, never run as markup; an amount past a float's precision keeps
        # every digit.
        body = json.dumps(
            {
                "type": "savings",
                "provider": "Ally",
                "accountName": '<img src=x onerror="document.title=1">Rainy day',
                "balance": "BALANCE",
                "currency": "USD",
                "details": {"apy": 4.1, "minimumBalance": 0, "routingNumber": "021000021"},
            }
        ).replace('"BALANCE"', "123456789012345.6789")
        created = httpx.post(
            f"{url}/users/user123/accounts",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert created.status_code == 201, created.text
        page.click("#who button[type=submit]")
        row = f"[data-account-id='{created.json()['id']}']"
        page.locator(row).wait_for()
        assert page.locator(f"{row} strong").first.inner_text().startswith("<img src=x")
        assert page.title() != "1"
        assert shown_amount(page, f"{row} .amount") == (
            Decimal("123456789012345.6789"),
            "$123,456,789,012,345.68",
        )

    # The service goes away: asked again, the page says it cannot reach it.
    page.click("#who button[type=submit]")
    problem.wait_for()
    assert page.locator("#problem-title").inner_text() == "Can't reach accounts-service"
    assert "Check that it is running" in page.locator("#problem-hint").inner_text()


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_the_default_start_opens_on_a_user_and_links_a_bank_from_the_page(page: Page) -> None:
    """`accounts-service run` as the README starts it: the demo's users, and the provider
    sandbox beside it (stopped with it)."""
    demo = {"ACCOUNTS_PROVIDER_SANDBOX_URL": None}
    with serving(demo, (sys.executable, "-m", "app", "run")) as (url, server):
        [sandbox] = [
            pid for pid in children_of(server.process.pid) if b"provider-sandbox" in cmdline(pid)
        ]
        page.goto(f"{url}/")
        page.wait_for_url("**/#user=user000")
        page.locator("#accounts").wait_for()
        suggested = page.locator("#known-users option")
        assert suggested.evaluate_all("options => options.map(o => o.value)") == [
            "user000",
            "user123",
            "user321",
            "user456",
            "user789",
        ]

        page.locator("#link summary").click()
        page.select_option("#link-form select[name=institution]", "ins_platypus")
        page.click("#link-form button")
        page.locator("#link-progress", has_text="Synced: 0 updated, 4 added, 0 closed").wait_for()
        bank = page.locator("[data-connection-id]")
        bank.locator("[data-status=healthy]", has_text="Up to date").wait_for()
        assert "4 accounts" in bank.inner_text()
        assert page.locator("[data-account-id]").count() == 4
    assert not Path(f"/proc/{sandbox}").exists()


def drawn(page: Page) -> list[tuple[str, Decimal, float]]:
    """The chart's points as drawn: date, exact amount, and height (SVG's y grows downwards)."""
    page.locator("#history .chart").wait_for()
    found = page.locator("#history .point").evaluate_all(
        "points => points.map(p => [p.dataset.date, p.dataset.amount, +p.getAttribute('cy')])"
    )
    return [(day, Decimal(amount), -y) for day, amount, y in found]


def test_the_chart_draws_the_apis_points_and_says_what_it_left_out(
    page: Page, write_seed: Any
) -> None:
    seed = write_seed(
        {
            "u1": [
                {**valid_account("savings", id="sav"), "balance": 5000, "currency": "USD"},
                {**valid_account("credit", id="card"), "balance": 700, "currency": "USD"},
                {**valid_account("savings", id="euro"), "balance": 900, "currency": "EUR"},
            ]
        }
    )
    today = datetime.now(UTC).date()
    with serving({"ACCOUNTS_SEED_DATA": str(seed)}) as (url, _):
        for days_ago in range(1, 400, 9):
            for account, base in [("sav", 4000), ("card", 900), ("euro", 800)]:
                entered = httpx.post(
                    f"{url}/users/u1/accounts/{account}/balances",
                    json={
                        "date": str(today - timedelta(days=days_ago)),
                        "balance": base - days_ago,
                    },
                )
                assert entered.status_code == 201, entered.text
        page.goto(f"{url}/#user=u1")

        def api_points(path: str, days: int, key: str) -> tuple[list[tuple[str, Decimal]], Any]:
            query = (
                f"from={today - timedelta(days=days)}&interval={'week' if days > 400 else 'day'}"
            )
            series = exact(httpx.get(f"{url}/users/u1/{path}?{query}"))
            return [(point["date"], point[key]) for point in series["points"]], series

        for range_, days in [("1M", 30), ("1Y", 365), ("All", 3650)]:
            page.click(f"#history .ranges button[data-range='{range_}']")
            page.locator(f"#history button[data-range='{range_}'][aria-pressed=true]").wait_for()
            expected, series = api_points("net-worth", days, "netWorth")
            page.wait_for_function(
                "n => document.querySelectorAll('#history .point').length === n", arg=len(expected)
            )
            points = drawn(page)
            assert [(day, amount) for day, amount, _ in points] == expected
            # Drawn to scale: each height is its amount's, between the least and the greatest
            # (to the tenth of a pixel the chart rounds to).
            low, high = min(points, key=lambda p: p[1]), max(points, key=lambda p: p[1])
            for _, amount, height in points:
                share = float((amount - low[1]) / (high[1] - low[1]))
                assert height == pytest.approx(low[2] + share * (high[2] - low[2]), abs=0.06)
            hollow = page.locator("#history .point").evaluate_all(
                "points => points.map(p => p.classList.contains('partial'))"
            )
            assert hollow == [bool(point["missingRates"]) for point in series["points"]]
            missing = {code for point in series["points"] for code in point["missingRates"]}
            warning = page.locator("#history-warning")
            if missing:  # the packaged rates are old: the euros are left out, and it says so
                assert (
                    f"Not counted: amounts in {', '.join(sorted(missing))}" in warning.inner_text()
                )
                assert "never taken at 1:1" in warning.inner_text()
            else:
                assert warning.is_hidden()
        assert "Net worth over time (USD)" in page.locator("#history-title").inner_text()

        page.locator("[data-account-id=euro] button.history").click()
        page.locator("#history-title", has_text="balance over time (EUR)").wait_for()
        expected, _ = api_points("accounts/euro/balances", 3650, "balance")
        page.wait_for_function(
            "n => document.querySelectorAll('#history .point').length === n", arg=len(expected)
        )
        assert [(day, amount) for day, amount, _ in drawn(page)] == expected
        assert page.locator("#history-warning").is_hidden()
        page.click("#history-back")
        page.locator("#history-title", has_text="Net worth over time").wait_for()
