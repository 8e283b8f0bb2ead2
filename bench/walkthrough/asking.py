"""Requests a person would send, and what they answer, said in words."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from bench.walkthrough.outcome import expect
from bench.walkthrough.processes import Service
from bench.walkthrough.walk import LINK, LIST, Walk

# Requests a person would send, with what they answer.


def answer(response: httpx.Response) -> str:
    detail = ""
    if response.headers.get("Content-Type", "").endswith("json") and response.status_code >= 400:
        detail = f" {response.json().get('title')!r}"
    retry = response.headers.get("Retry-After")
    return f"{response.status_code}{detail}" + (f", Retry-After: {retry}" if retry else "")


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, (time.monotonic() - started) * 1000


def new_account(name: str) -> dict[str, Any]:
    return {
        "type": "checking",
        "provider": "Walkthrough Bank",
        "accountName": name,
        "balance": 100,
        "currency": "USD",
        "details": {"overdraftProtection": False, "routingNumber": "021000021"},
    }


def survives_restart(walk: Walk, env: Mapping[str, str], service: Service) -> tuple[Service, bool]:
    """Adds an account, restarts the service with `env` (its settings, the servers perhaps
    reached through a proxy now), and tells whether the account is still there."""
    created = httpx.post(f"{service.url}{LIST}", json=new_account("Restart test"))
    expect(created.status_code == 201, f"adding an account: {answer(created)}")
    location = created.headers["Location"]
    service.stop()
    restarted = walk.service(env)
    return restarted, httpx.get(f"{restarted.url}{location}").status_code == 200


def until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Waits for `condition`, and answers how long it took in seconds."""
    started = time.monotonic()
    while not condition():
        expect(time.monotonic() - started < seconds, f"{what} within {seconds:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


def fresh_after_writes(writer: Service, reader: Service, count: int = 20) -> int:
    """PATCHes acc1's balance through `writer`, reads the list through `reader` at once each
    time, and answers how many reads showed the balance just written."""
    fresh = 0
    for n in range(count):
        balance = 1000 + n
        patched = httpx.patch(f"{writer.url}{LIST}/acc1", json={"balance": balance})
        expect(patched.status_code == 200, f"PATCH: {answer(patched)}")
        listed = httpx.get(f"{reader.url}{LIST}").json()["accounts"]
        fresh += next(a for a in listed if a["id"] == "acc1")["balance"] == balance
    return fresh


def cache_lookups(service: Service, result: str = "hit") -> float:
    return metric(service, "accounts_cache_lookups_total", f'result="{result}"')


def metric(service: Service, name: str, labels: str = "") -> float:
    """The sum of a metric's samples on /metrics whose labels hold `labels`."""
    text = httpx.get(f"{service.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and labels in line
    )


def link_anew(service: Service, user: str) -> str:
    """Links the user's bank, after unlinking what an earlier link (or run) left: the same bank
    linked twice is refused (409 `already-linked`). Answers the connection's path."""
    for connection in httpx.get(f"{service.url}/users/{user}/connections").json()["connections"]:
        httpx.delete(f"{service.url}/users/{user}/connections/{connection['id']}", timeout=30)
    linked = httpx.post(f"{service.url}/users/{user}/connections", json=LINK, timeout=30)
    expect(linked.status_code == 201, f"linking: {answer(linked)}")
    return str(linked.headers["Location"])


def refresh(service: Service, connection: str) -> str:
    asked = httpx.post(f"{service.url}{connection}/refresh")
    expect(asked.status_code == 202, f"refresh: {answer(asked)}")
    return str(asked.headers["Location"])


def synced(service: Service, job: str, what: str) -> None:
    until(lambda: job_status(service, job) == "succeeded", 60, what)


def job_status(service: Service, job: str) -> str:
    return str(httpx.get(f"{service.url}{job}").json()["status"])


def connection_status(service: Service, connection: str) -> str:
    return str(httpx.get(f"{service.url}{connection}").json()["status"])
