"""The service's Prometheus metrics, defined once per process as prometheus_client expects.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it, before any worker starts), each
process writes its counts to files there, and /metrics (app/entrypoints/http/metrics.py) adds them
all up. Routes are labelled by their template, never the raw path, so user ids cannot explode the
number of series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
SYNC_JOBS = Counter(
    "accounts_sync_attempts_total",
    "Sync job attempts, by outcome: succeeded, failed (for good, e.g. the user must log in), "
    "retrying, gave_up (out of attempts), busy (another worker holds the job), skipped (done "
    "already, or deleted).",
    ["outcome"],
)
SYNC_DURATION = Histogram(
    "accounts_sync_attempt_duration_seconds",
    "Time of one sync job attempt, the provider's answer included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SYNC_STALENESS = Histogram(
    "accounts_sync_staleness_seconds",
    "How long since a connection's last successful sync (or its link), seen as each sync "
    "attempt starts: what the schedule keeps low.",
    buckets=(60, 300, 900, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400),
)
SYNC_QUEUE_DEPTH = Gauge(
    "accounts_sync_queue_depth",
    "Sync jobs waiting in the queue (ready, and delayed for a retry), as last seen.",
    ["state"],
    multiprocess_mode="mostrecent",
)
CONNECTIONS_STALE = Gauge(
    "accounts_connections_stale",
    "Connections, not disconnected, whose last successful sync is older than two of the "
    "schedule's intervals, as the schedule last counted.",
    multiprocess_mode="mostrecent",
)
REPLICA_READS = Counter(
    "accounts_replica_reads_total",
    "Reads of users' accounts for GET and HEAD requests, by where they went: a read replica "
    "(by host), or the primary (no replica had replayed the user's last write).",
    ["source"],
)
REPLICA_BEHIND_BYTES = Gauge(
    "accounts_replica_behind_bytes",
    "How far each read replica's replay was behind the primary's WAL, as last checked.",
    ["replica"],
    multiprocess_mode="mostrecent",
)
