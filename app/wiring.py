"""What the service is made of, built once from its settings: the one place the parts are wired.

The HTTP layer reads these components (app/entrypoints/http/context.py); so could a worker or a
command that needs the same parts without Flask.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet

from app.adapters.cache import build_cache
from app.adapters.ecb import fetch_rates
from app.adapters.providers.sandbox import SandboxProvider
from app.adapters.queue.running import Scheduler, attempt
from app.adapters.queue.threads import InProcessQueue
from app.adapters.sealing import TokenSeal
from app.adapters.seed import load_seed_file
from app.adapters.storage import build_stores
from app.adapters.storage.timed import timed_repository
from app.adapters.tokens import TokenVerifier, token_verifier
from app.config import ConfigurationError
from app.domain.accounts import Account
from app.domain.errors import StorageUnavailable
from app.services import store as store_service
from app.services.aggregation import Aggregation, SyncPolicy
from app.services.cache import ResponseCache
from app.services.providers import ProviderAdapter
from app.services.queue import JobQueue
from app.services.rates import RateStore
from app.services.repositories import (
    AccountRepository,
    DeliveryLog,
    IdempotencyKeys,
    Store,
    StoreAdministration,
)

if TYPE_CHECKING:
    # Imported only with replicas: it brings SQLAlchemy, which the in-memory default spares.
    from app.adapters.storage.replicas import ReplicaReads


@dataclass(frozen=True)
class Components:
    #: For writes, and for every read that is part of a write.
    repository: AccountRepository
    #: For reads that are not part of a write: a replica when one is configured.
    read_repository: AccountRepository
    #: The whole stores, by the name readiness reports them under ("database", "read replica
    #: <host:port>").
    stores: Mapping[str, StoreAdministration]
    cache: ResponseCache
    #: What checks bearer tokens; None when authentication is off.
    verifier: TokenVerifier | None
    #: The data loaded at start, which fixture mode's empty reset goes back to.
    seed: Mapping[str, Sequence[Account]]
    #: Provider connections and their syncs.
    aggregation: Aggregation
    #: Webhook deliveries already acted on.
    deliveries: DeliveryLog
    #: POST requests' idempotency keys and their first answers.
    idempotency: IdempotencyKeys
    #: Exchange rates, which amounts in other currencies are converted with.
    rates: RateStore
    #: Fetches the rates from RATES_URL into the store, for the schedule; None without one.
    refresh_rates: Callable[[], int] | None
    #: The most accounts one user may hold.
    max_accounts: int
    #: Runs the schedule (and, without a broker, the jobs) in this process once started.
    scheduler: Scheduler | None
    #: What routes reads to replicas, and watches them; None without replicas.
    replica_reads: ReplicaReads | None = None
    _started_in: list[int] = field(default_factory=list)
    _start_lock: threading.Lock = field(default_factory=threading.Lock)

    def start_background(self) -> None:
        """Starts, once per process, the background work the service does itself: without a
        broker, running sync jobs and the schedule. Called from the process that serves (after
        gunicorn forks it), not at build time: threads do not survive a fork."""
        if self._started_in and self._started_in[-1] == os.getpid():
            return
        with self._start_lock:
            if self._started_in and self._started_in[-1] == os.getpid():
                return
            self._started_in.append(os.getpid())
            queue = self.aggregation.queue
            if isinstance(queue, InProcessQueue):
                aggregation = self.aggregation
                queue.serve(lambda user_id, job_id: attempt(aggregation, user_id, job_id).retry_in)
                if self.scheduler is not None:
                    self.scheduler.start()

    @property
    def store(self) -> StoreAdministration:
        """The primary store, whole."""
        return self.stores["database"]

    def close(self) -> None:
        """Releases every connection; the components reconnect if used again."""
        if self.scheduler is not None:
            self.scheduler.stop()
        self.aggregation.queue.close()
        for provider in self.aggregation.providers.values():
            provider.close()
        if self.replica_reads is not None:
            self.replica_reads.close()
        for store in self.stores.values():
            store.close()
        self.cache.close()


def build_components(settings: Mapping[str, Any]) -> Components:
    """Raises ConfigurationError, with a one-line reason, when the settings cannot work."""
    # Checked first: a missing key is a configuration error whatever state the database is in.
    verifier = token_verifier(settings)
    seed_file = settings["SEED_DATA"]
    seed = load_seed_file(Path(str(seed_file))) if seed_file else {}
    primary, replica_reads = build_stores(settings)
    try:
        store_service.seed_if_empty(primary, seed)
    except StorageUnavailable as error:
        raise ConfigurationError(f"cannot seed the store: {error.__cause__}") from None
    timed = timed_repository(primary)
    stores: dict[str, StoreAdministration] = {"database": primary}
    for replica in replica_reads.replicas if replica_reads is not None else []:
        stores[f"read replica {replica.name}"] = replica.store
    aggregation = build_aggregation(
        settings, timed, primary, on_database=bool(settings["DATABASE_URL"])
    )
    refresh_rates = rates_refresh(settings, primary)
    # With a broker, `accounts-service worker` runs the schedule.
    scheduler = (
        None
        if settings["BROKER_URL"]
        else schedule_of(settings, aggregation, primary, refresh_rates)
    )
    # Duck-typed on purpose: it answers every method the interface has, by delegation.
    reads: AccountRepository | None = replica_reads  # type: ignore[assignment]
    return Components(
        repository=timed,
        read_repository=timed if reads is None else timed_repository(reads),
        stores=stores,
        cache=build_cache(settings),
        verifier=verifier,
        seed=seed,
        aggregation=aggregation,
        deliveries=primary,
        idempotency=primary,
        rates=primary,
        refresh_rates=refresh_rates,
        max_accounts=int(settings["MAX_ACCOUNTS_PER_USER"]),
        scheduler=scheduler,
        replica_reads=replica_reads,
    )


def rates_refresh(settings: Mapping[str, Any], store: RateStore) -> Callable[[], int] | None:
    """What the schedule calls to load the rates at RATES_URL, if one is set."""
    url = settings["RATES_URL"]
    if not url:
        return None
    timeout = float(settings["PROVIDER_READ_TIMEOUT_SECONDS"])
    return lambda: store.store_rates(fetch_rates(str(url), timeout))


def schedule_of(
    settings: Mapping[str, Any],
    aggregation: Aggregation,
    store: StoreAdministration,
    refresh_rates: Callable[[], int] | None,
) -> Scheduler:
    """The schedule, as the service runs it without a broker and the worker with one."""
    tick = float(settings["SYNC_SCHEDULE_TICK_SECONDS"])
    every = float(settings["RATES_REFRESH_SECONDS"])
    return Scheduler(aggregation, tick, store, refresh_rates, every)


def build_providers(settings: Mapping[str, Any]) -> dict[str, ProviderAdapter]:
    sandbox_url = settings["PROVIDER_SANDBOX_URL"]
    if not sandbox_url:
        return {}
    return {
        "sandbox": SandboxProvider(
            str(sandbox_url),
            connect_timeout=float(settings["PROVIDER_CONNECT_TIMEOUT_SECONDS"]),
            read_timeout=float(settings["PROVIDER_READ_TIMEOUT_SECONDS"]),
            webhook_url=settings["WEBHOOK_URL"] or None,
        )
    }


def build_queue(settings: Mapping[str, Any]) -> JobQueue:
    url = settings["BROKER_URL"]
    if not url:
        return InProcessQueue(int(settings["SYNC_THREADS"]))
    # Imported only with a broker: Dramatiq and pika are not needed otherwise.
    from app.adapters.queue.broker import BrokerQueue, declare_actor, make_broker

    broker = make_broker(str(url))
    return BrokerQueue(broker, declare_actor(broker, str(settings["BROKER_QUEUE"]), None))


def sync_policy(settings: Mapping[str, Any]) -> SyncPolicy:
    interval = float(settings["SYNC_INTERVAL_SECONDS"])
    return SyncPolicy(
        interval=timedelta(seconds=interval) if interval > 0 else None,
        max_attempts=max(1, int(settings["SYNC_MAX_ATTEMPTS"])),
        retry_base=float(settings["SYNC_RETRY_BASE_SECONDS"]),
        retry_cap=float(settings["SYNC_RETRY_MAX_SECONDS"]),
        lease=timedelta(seconds=float(settings["SYNC_LEASE_SECONDS"])),
        queued_timeout=timedelta(seconds=float(settings["SYNC_QUEUED_TIMEOUT_SECONDS"])),
        jobs_kept=timedelta(days=float(settings["SYNC_JOBS_KEPT_DAYS"])),
    )


def build_aggregation(
    settings: Mapping[str, Any],
    accounts: AccountRepository,
    store: Store,
    on_database: bool,
) -> Aggregation:
    providers = build_providers(settings)
    key = settings["TOKEN_KEY"]
    if not key:
        if providers and on_database:
            raise ConfigurationError(
                "set ACCOUNTS_TOKEN_KEY: provider access tokens kept in a database must be "
                "sealed under a key that outlives this process"
            )
        key = Fernet.generate_key().decode()
    return Aggregation(
        accounts=accounts,
        connections=store,
        providers=providers,
        seal=TokenSeal(str(key)),
        queue=build_queue(settings),
        policy=sync_policy(settings),
        max_accounts=int(settings["MAX_ACCOUNTS_PER_USER"]),
    )
