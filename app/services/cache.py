"""What the services need of a response cache: ready-to-send bodies of account lists and
summaries, by (user, filter, user revision), each rendered once however many ask at once.

The key holds the user's revision (AccountRepository.user_revision), which every write changes in
the same transaction as the write itself. So nothing is ever invalidated by hand: after a write,
every worker (and every machine) reads the new revision and asks for a key nobody has filled yet.
An entry can only be newer than its key says, never older, because the revision is read first.
The backends (this process's memory, Redis) are in app/adapters/cache.py.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple


def _uncounted() -> None:
    pass


class CacheKey(NamedTuple):
    user_id: str
    #: The type filter, as a canonical string ("" for none), so equal filters share an entry.
    variant: str
    revision: int


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    etag: str
    #: How many accounts the body lists (for the accounts-served metric).
    accounts: int


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: CachedBody | None = None


class ResponseCache(ABC):
    """A store of CachedBody by CacheKey. `fetch` is what callers use."""

    def __init__(self, counted: Mapping[str, Callable[[], None]] | None = None) -> None:
        self._flights: dict[CacheKey, _Flight] = {}
        self._flights_lock = threading.Lock()
        # Each lookup's outcome, counted by the backend's metrics (hit, miss, shared).
        count = counted or {}
        self._hit, self._miss, self._shared = (
            count.get(outcome, _uncounted) for outcome in ("hit", "miss", "shared")
        )

    def close(self) -> None:  # noqa: B027 (a cache in this process's memory holds nothing to release)
        """Releases connections; a cache used again afterwards reconnects."""

    @abstractmethod
    def get(self, key: CacheKey) -> CachedBody | None: ...

    @abstractmethod
    def put(self, key: CacheKey, entry: CachedBody) -> None: ...

    def hit(self, key: CacheKey) -> CachedBody | None:
        """The entry for `key`, counted as a hit; None, counted nowhere, when there is none."""
        entry = self.get(key)
        if entry is not None:
            self._hit()
        return entry

    def fetch(self, key: CacheKey, render: Callable[[], CachedBody]) -> CachedBody:
        """The entry for `key`, rendered (once, however many threads ask at the same time)
        when there is none."""
        entry = self.hit(key)
        if entry is not None:
            return entry
        with self._flights_lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leading:
            flight.done.wait()
            if flight.result is not None:
                self._shared()
                return flight.result
            # The leader failed (a 503, say); this request tries on its own and fails on its own.
            self._miss()
            return render()
        try:
            # A leader that finished between this request's lookup and its flight stored the
            # entry already: looked up again, so that a burst still reads the store once.
            stored = self.hit(key)
            if stored is not None:
                flight.result = stored
                return stored
            self._miss()
            flight.result = render()
            self.put(key, flight.result)
            return flight.result
        finally:
            with self._flights_lock:
                del self._flights[key]
            flight.done.set()
