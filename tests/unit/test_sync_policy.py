"""How long a failed sync waits before its next attempt: exponential backoff with full jitter
(anywhere from 0 to the ceiling), the ceiling doubling from the base up to the cap, and never
sooner than the provider's Retry-After."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.services.aggregation import SyncPolicy

POLICY = SyncPolicy(
    interval=None,
    max_attempts=10,
    retry_base=2.0,
    retry_cap=60.0,
    lease=timedelta(seconds=15),
    queued_timeout=timedelta(minutes=10),
)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (9, 60.0)]
)
def test_the_ceiling_doubles_from_the_base_up_to_the_cap(
    attempt: int, ceiling: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    assert POLICY.backoff(attempt, None) == ceiling
    assert asked == [(0, ceiling)]  # full jitter: from nothing up to the ceiling


def test_the_jitter_reaches_down_to_no_wait_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert POLICY.backoff(1, None) == 0.0
    assert POLICY.backoff(3, 0.5) == 0.5


def test_the_jitter_spreads_the_waits_and_a_retry_after_is_a_floor() -> None:
    waits = {POLICY.backoff(4, None) for _ in range(200)}
    assert all(0 <= wait <= 16.0 for wait in waits)
    assert len(waits) > 100  # spread, not one value
    assert min(POLICY.backoff(1, 45.0) for _ in range(50)) == 45.0
    assert POLICY.backoff(9, 90.0) == 90.0  # above the cap, as the provider asked
