"""Retention (app/services/retention.py): the schedule prunes aged rows, one process at a time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from app.adapters.queue.running import utcnow
from app.adapters.storage.sql import SqlAccountRepository
from app.adapters.storage.sql.administration import PRUNING_LOCK
from app.config import settings
from app.domain.errors import SyncJobNotFound
from app.wiring import build_components
from tests.databases import migrated
from tests.integration.test_repository_contract import finish_job, linked_connection


def aged_jobs(store: SqlAccountRepository) -> None:
    """Three jobs of one connection finished 30, 20 and 10 days ago."""
    store.replace_all({"alice": []})
    store.add_connection("alice", linked_connection("conn1"))
    for days in (30, 20, 10):
        finish_job(store, f"job{days}", utcnow() - timedelta(days=days), "conn1")


def test_the_schedule_prunes_jobs_past_the_days_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrated(url)
    components = build_components(
        settings({"DATABASE_URL": url, "SEED_DATA": "", "AUTH": "off", "SYNC_JOBS_KEPT_DAYS": 15})
    )
    store = components.store
    assert isinstance(store, SqlAccountRepository)
    aged_jobs(store)
    assert components.scheduler is not None
    components.scheduler.run_once()
    for gone in ("job30", "job20"):
        with pytest.raises(SyncJobNotFound):
            store.get_job("alice", gone)
    assert store.get_job("alice", "job10").finished_at is not None
    components.close()


def test_on_postgresql_one_process_prunes_at_a_time(fresh_postgres_url: str) -> None:
    # A database of its own: the session's holds keys and deliveries other tests let expire.
    postgres_url = fresh_postgres_url
    store = SqlAccountRepository(migrated(postgres_url))
    aged_jobs(store)
    cutoff = utcnow() - timedelta(days=15)
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [PRUNING_LOCK])
        assert store.prune(utcnow(), cutoff, 10) == 0  # another process is pruning
        other.execute("SELECT pg_advisory_unlock(%s)", [PRUNING_LOCK])
    assert store.prune(utcnow(), cutoff, 10) == 2
    store.close()
