"""Waiting for what happens in its own time: a job a worker runs, a server's own counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    timeout: float = 10,
    every: float = 0.02,
    why: Callable[[], str] = lambda: "never happened",
) -> T:
    """What `check` returns once it is truthy; AssertionError with `why()` past `timeout`."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(why())
        time.sleep(every)
    return found
