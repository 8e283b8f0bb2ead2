"""Chapter 5: /metrics, /readyz and a JSON log line per request."""

from __future__ import annotations

import httpx

from bench.walkthrough.asking import cache_lookups, metric, timed
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.walk import LIST, Walk


def monitoring(walk: Walk) -> None:
    say("5. Monitoring: /metrics (Prometheus), /readyz, a JSON log line per request")
    url = walk.postgres()
    cached = walk.cached()
    service = walk.service({"ACCOUNTS_DATABASE_URL": url, **cached})
    with httpx.Client() as client:
        for _ in range(50):
            client.get(f"{service.url}{LIST}")
        missing = client.get(f"{service.url}/users/nobody/accounts")
        invalid = client.post(f"{service.url}{LIST}", json={"type": "credit"})
    say(
        f"  sent 50 lists, one unknown user ({missing.status_code}), "
        f"one invalid body ({invalid.status_code})"
    )
    scrape, took = timed(lambda: httpx.get(f"{service.url}/metrics"))
    samples = [line for line in scrape.text.splitlines() if line and not line.startswith("#")]
    say(
        f"  one scrape of /metrics: {len(samples)} samples, "
        f"{len(scrape.content) / 1024:.0f} KiB, {took:.0f} ms"
    )
    route = 'route="/users/<id:user_id>/accounts"'
    served = metric(service, "accounts_http_requests_total", f'method="GET",{route},status="200"')
    count = metric(service, "accounts_http_request_duration_seconds_count", route)
    total = metric(service, "accounts_http_request_duration_seconds_sum", route)
    say(
        f"  accounts_http_requests_total, the list, 200: {served:.0f}; "
        f"mean {total / count * 1000:.2f} ms"
    )
    for result in ("hit", "miss"):
        say(
            f'  accounts_cache_lookups_total{{result="{result}"}}: '
            f"{cache_lookups(service, result):.0f}"
        )
    expect(served >= 50, "every list counted")
    readiness = httpx.get(f"{service.url}/readyz")
    say(f"  /readyz: {readiness.status_code} {readiness.text.strip()}")
    request_id = missing.headers["X-Request-ID"]
    line = next((line for line in service.log.read_text().splitlines() if request_id in line), None)
    say(f"  the 404's log line, found by its X-Request-ID: {line}")
    expect(line is not None and '"status":404' in line, "a log line per request")
