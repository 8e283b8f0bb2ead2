"""Settings: defaults here, each overridable by an `ACCOUNTS_`-prefixed environment variable
(`ACCOUNTS_SEED_DATA=other.json` sets SEED_DATA), then by the mapping given to create_app."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PREFIX = "ACCOUNTS_"
#: The demo's users, shipped in the package (the repository's seed_data.json links to it).
DEMO_SEED = Path(__file__).resolve().parent / "seed_data.json"
#: Variables of the test suite's (docs/code.md), which share the prefix but are no settings.
_TEST_SUITE_VARIABLES = ("ACCOUNTS_REQUIRE_SERVICES", "ACCOUNTS_TEST_")


class ConfigurationError(Exception):
    """The service cannot start as configured; the message says why, in one line."""


class DefaultConfig:
    #: Seed file loaded at start into a store that is empty; empty for none. The default is the
    #: demo's users, shipped in the package.
    SEED_DATA = str(DEMO_SEED)
    #: Adds GET /export and POST /reset, which read and replace every user's data at once.
    FIXTURE_MODE = False
    #: The most accounts one user may hold, added by hand or synced: past it a 409, so that no
    #: list is unbounded.
    MAX_ACCOUNTS_PER_USER = 500
    #: How long a POST with an Idempotency-Key holds the key: a retry meanwhile is a 409, and
    #: takes the key over after it, should the first have died (it then records nothing).
    IDEMPOTENCY_LEASE_SECONDS = 15.0
    #: Request bodies larger than this are refused with 413; an account is well under 1 KiB.
    MAX_CONTENT_LENGTH = 64 * 1024
    #: `jwt` or `off`. Unset: off for the in-memory demo, jwt whenever DATABASE_URL is set.
    AUTH: str | None = None
    #: The HS256 secret tokens are signed with; or the path of the PEM public key for RS256.
    JWT_SECRET: str | None = None
    JWT_PUBLIC_KEY: str | None = None
    #: When set, tokens must carry this `iss`, and name this in their `aud`.
    JWT_ISSUER: str | None = None
    JWT_AUDIENCE: str | None = None
    #: The longest a token may still be valid: one expiring later than this from now is refused.
    JWT_MAX_LIFETIME_SECONDS = 86400
    #: Requests allowed per client address, and per bearer token, across all routes (limits
    #: syntax, e.g. "300 per second"; empty for no limit). Past either: 429 with Retry-After.
    RATE_LIMIT_PER_ADDRESS = "300 per second"
    # A rate limit, whatever bandit and ruff make of "TOKEN" in its name.
    RATE_LIMIT_PER_TOKEN = "50 per second"  # noqa: S105  # nosec B105
    #: Redis for counting rate limits across worker processes, e.g. redis://127.0.0.1:6379.
    REDIS_URL: str | None = None
    #: How often each process adds its new rate-limit counts to Redis's and reads everyone's
    #: back: a budget may be passed by what each process admits in that time.
    RATE_LIMIT_SHARE_SECONDS = 0.1
    #: How many proxies of ours stand in front (their X-Forwarded-For is trusted); 0 for none.
    TRUSTED_PROXIES = 0
    #: Web origins allowed to call the API from a browser (CORS), e.g. `["https://app.example"]`;
    #: empty allows none.
    CORS_ORIGINS: list[str] = []  # noqa: RUF012 (read, never changed)

    #: Where account lists are cached, ready to send: `process` (each worker's own memory) or
    #: `redis` (REDIS_URL, shared by every worker and machine). A write makes a user's cached
    #: lists stale everywhere at once, whichever it is.
    CACHE_BACKEND = "process"
    #: Most bytes of lists one process keeps cached (least recently used go first); 0 for none.
    CACHE_MAX_BYTES = 32 * 1024 * 1024
    #: How long Redis keeps a list, and how long to wait for Redis before answering without it.
    CACHE_TTL_SECONDS = 3600
    CACHE_REDIS_TIMEOUT_SECONDS = 0.1
    #: Where readers take users' revisions from, on a database: `database`, or `redis`
    #: (REDIS_URL), which spares a cached read its round trip to the database while staying
    #: exact (app/adapters/storage/revisions.py).
    REVISIONS = "database"
    #: Keeps one database's revisions apart from another's on a shared Redis: every service
    #: (and `db seed`) on the same database must use the same, and no other database this one.
    REVISIONS_NAMESPACE = "accounts"

    #: `sqlite:///path.db` or `postgresql://…`; None keeps the data in this process's memory.
    DATABASE_URL: str | None = None
    #: PostgreSQL streaming replicas of DATABASE_URL (URLs separated by commas) that GET and
    #: HEAD requests read a user's accounts from once they have replayed the user's last write
    #: (needs REVISIONS=redis); None reads the primary.
    READ_REPLICA_URL: str | None = None
    #: A replica that has not replayed what the primary had written this long ago is left out.
    READ_REPLICA_MAX_LAG_SECONDS = 5.0
    #: Connections each worker process keeps open per database, and how many more it may open.
    DB_POOL_SIZE = 5
    DB_MAX_OVERFLOW = 5
    #: Seconds to wait for a pooled connection, and to connect; then the request gets a 503.
    DB_POOL_TIMEOUT = 3
    DB_CONNECT_TIMEOUT = 3
    #: Longest a statement may run (and, on SQLite, wait for another writer's lock).
    DB_STATEMENT_TIMEOUT_MS = 5000
    #: True when a transaction pooler (PgBouncer in transaction mode) stands in front of
    #: PostgreSQL: no startup options and no server-side prepared statements, which it cannot
    #: pass; set the statement timeout on the role instead (docs/scaling.md).
    DB_TRANSACTION_POOLING = False

    #: The provider sandbox's URL (`accounts-service provider-sandbox`), offered as the provider
    #: `sandbox`; None offers no provider, and linking is refused.
    PROVIDER_SANDBOX_URL: str | None = None
    #: Seconds to wait for a provider to accept a connection, and then for its answer.
    PROVIDER_CONNECT_TIMEOUT_SECONDS = 2.0
    PROVIDER_READ_TIMEOUT_SECONDS = 10.0
    #: The Fernet key that seals providers' access tokens at rest (`python3 -c 'from
    #: cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`). Required with
    #: a database and a provider; otherwise a key made at start (the in-memory store's tokens
    #: end with the process anyway).
    TOKEN_KEY: str | None = None
    #: This service's webhook URL as the provider reaches it (e.g.
    #: https://api.example/webhooks/sandbox), given to the provider when a connection is linked;
    #: None for no webhooks.
    WEBHOOK_URL: str | None = None
    #: The secret providers sign webhooks with (HMAC-SHA256); None refuses every webhook.
    WEBHOOK_SECRET: str | None = None
    #: How far a webhook's signed time may be from now, in seconds.
    WEBHOOK_TOLERANCE_SECONDS = 300

    #: RabbitMQ, e.g. amqp://guest:guest@127.0.0.1:5672/%2F: sync jobs go there and
    #: `accounts-service worker` runs them. None runs them on this process's own threads.
    BROKER_URL: str | None = None
    #: The RabbitMQ queue of sync jobs (its dead letters go to `<queue>.XQ`).
    BROKER_QUEUE = "accounts-sync"
    #: Threads that run sync jobs in this process when there is no broker.
    SYNC_THREADS = 2
    #: Each connection is synced this often by the schedule; 0 for never.
    SYNC_INTERVAL_SECONDS = 3600
    #: How often the schedule looks for connections that are due.
    SYNC_SCHEDULE_TICK_SECONDS = 5.0
    #: Attempts a sync job gets for failures that may pass; the first retry waits up to BASE
    #: seconds, each next one up to twice as long, never more than MAX (and never less than a
    #: provider's Retry-After).
    SYNC_MAX_ATTEMPTS = 5
    SYNC_RETRY_BASE_SECONDS = 2.0
    SYNC_RETRY_MAX_SECONDS = 300.0
    #: How long a worker holds a job it runs, renewed every third of it while the attempt runs:
    #: another worker takes over a dead one's job once it has passed.
    SYNC_LEASE_SECONDS = 15.0
    #: How long a job may wait in the queue before its message is taken to be lost.
    SYNC_QUEUED_TIMEOUT_SECONDS = 3600.0
    #: Where the schedule fetches the ECB's reference rates from (its daily `eurofxref.csv`, e.g.
    #: https://www.ecb.europa.eu/stats/eurofxref/eurofxref.csv), every RATES_REFRESH_SECONDS;
    #: None fetches nothing (then `accounts-service rates load` loads them).
    RATES_URL: str | None = None
    RATES_REFRESH_SECONDS = 3600.0
    #: How long finished sync jobs are kept (each connection's latest always is); the schedule
    #: prunes older ones, with expired idempotency keys and webhook deliveries.
    SYNC_JOBS_KEPT_DAYS = 14.0


def settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """DefaultConfig, then the `ACCOUNTS_` environment variables, then `overrides`.

    A variable's value is read as JSON when it is JSON (`5`, `true`, `["https://a.example"]`),
    as the string it is otherwise, the way Flask's `from_prefixed_env` reads it.

    Raises ConfigurationError for a variable that names no setting (a misspelt one would
    otherwise leave its setting at the default, unseen).
    """
    values = {name: getattr(DefaultConfig, name) for name in dir(DefaultConfig) if name.isupper()}
    known = set(values)
    for name, raw in os.environ.items():
        if name.startswith(PREFIX) and not name.startswith(_TEST_SUITE_VARIABLES):
            setting = name.removeprefix(PREFIX)
            if setting not in known:
                raise ConfigurationError(_unknown(name, known))
            values[setting] = _parsed(raw)
    values.update(overrides or {})
    return values


def _unknown(variable: str, known: set[str]) -> str:
    nearest = difflib.get_close_matches(variable.removeprefix(PREFIX), sorted(known), n=1)
    hint = f"did you mean {PREFIX}{nearest[0]}? " if nearest else ""
    return f"{variable} is no setting: {hint}(every setting: docs/configuration.md)"


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
