"""The service's Prometheus metrics, defined once per process as prometheus_client expects.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it, before any worker starts), each
process writes its counts to files there, and /metrics (app/api/metrics.py) adds them all up.
Routes are labelled by their template, never the raw path, so user ids cannot explode the number
of series.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "accounts_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "accounts_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REPOSITORY_LATENCY = Histogram(
    "accounts_repository_call_duration_seconds",
    "Time of one call to the store.",
    ["operation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
)
ACCOUNTS_SERVED = Counter("accounts_served_total", "Accounts returned in account lists.")
CACHE_LOOKUPS = Counter(
    "accounts_cache_lookups_total",
    "Account lists looked up in the response cache, by result: hit, miss (rendered from the "
    "store), or shared (rendered once for several requests that missed at the same time).",
    ["result"],
)
CACHE_ERRORS = Counter(
    "accounts_cache_errors_total", "Calls to the cache's Redis that failed or timed out."
)
