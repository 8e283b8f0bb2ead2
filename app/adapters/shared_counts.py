"""Rate-limit counts shared by every process through Redis, at no round trip per request.

Counted the way gateways count local-plus-global: each process decides at once, from everyone's
count as Redis last told it plus its own requests since; every `share_seconds` a thread of its own
adds this process's new requests to Redis's counts and reads everyone's back, for every key at
once in one round trip. Windows slide as the `limits` library's sliding window counters do: this
window's count, plus the previous window's weighted by how much of it the last `window` seconds
still cover.

The price is a bounded overshoot: a process learns of the others' requests for a key at the
exchange after its own next request for it, so a budget can be passed by what each other process
admits before it learns: at most `share_seconds` of its traffic for that key, and never more than
the budget.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from app.adapters.pause import Pause
from app.adapters.redis_client import REDIS_ERRORS, LazyRedis, packed

_PREFIX = "accounts-service:rate:"


@dataclass
class _Count:
    window: int
    #: Requests this process admitted since the last exchange.
    pending: int = 0
    #: Everyone's counts as Redis last told them: the window they were read in, its count and
    #: the one before.
    index: int = 0
    current: int = 0
    previous: int = 0
    seen_at: float = 0.0

    def everyone(self, now: float) -> float:
        """Everyone's weighted count at `now`, from the last exchange."""
        index, into = divmod(now, self.window)
        left = 1 - into / self.window
        if index == self.index:
            return self.previous * left + self.current
        if index == self.index + 1:
            return self.current * left
        return 0.0


class SharedCounts:
    """Sliding-window counts shared through the Redis at `url` (see the module)."""

    def __init__(self, url: str, share_seconds: float, pause: Pause) -> None:
        self._client = LazyRedis(url, 1.0)
        self._share_seconds = share_seconds
        self._pause = pause
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()
        self._sharing_in: int | None = None

    def hit(self, key: str, limit: int, window: int) -> bool:
        """Counts one request for `key` unless it is over `limit` per `window` seconds."""
        self._share_in_background()
        now = time.time()
        with self._lock:
            count = self._counts.get(key)
            if count is None:
                count = self._counts[key] = _Count(window)
            count.seen_at = now
            if count.everyone(now) + count.pending + 1 > limit:
                return False
            count.pending += 1
            return True

    def _share_in_background(self) -> None:
        # Started once per process, after gunicorn's fork: threads do not survive one.
        if self._sharing_in != os.getpid():
            with self._lock:
                if self._sharing_in == os.getpid():
                    return
                self._sharing_in = os.getpid()
            threading.Thread(target=self._sharing, name="rate-limit-share", daemon=True).start()

    def _sharing(self) -> None:
        pid = os.getpid()
        while self._sharing_in == pid:
            time.sleep(self._share_seconds)
            if not self._pause.paused():
                try:
                    self.share()
                except Exception as error:  # whatever fails, the next exchange tries again
                    self._pause.failed(error)
                else:
                    self._pause.answered()

    def share(self) -> None:
        """One exchange: this process's new requests added to Redis's counts, everyone's read
        back. Raises one of REDIS_ERRORS when Redis fails: the requests it was to add wait for
        the next exchange (meanwhile, limits count in memory)."""
        now = time.time()
        with self._lock:
            for key in [k for k, c in self._counts.items() if now - c.seen_at > 2 * c.window]:
                del self._counts[key]
            # Only keys with new requests: a key's count matters again when it is asked again,
            # and is read back at the exchange after that.
            sending = [(k, c.window, c.pending) for k, c in self._counts.items() if c.pending]
            for count in self._counts.values():
                count.pending = 0
        if not sending:
            return
        commands: list[tuple[str, ...]] = []
        for key, window, added in sending:
            index = int(now // window)
            current, previous = (f"{_PREFIX}{{{key}}}:{window}:{n}" for n in (index, index - 1))
            commands += [
                ("INCRBY", current, str(added)),
                ("EXPIRE", current, str(2 * window)),
                ("MGET", current, previous),
            ]
        try:
            replies = iter(self._round_trip(commands))
        except REDIS_ERRORS:
            with self._lock:  # sent with the next exchange that goes through
                for key, _, added in sending:
                    if (unsent := self._counts.get(key)) is not None:
                        unsent.pending += added
            raise
        with self._lock:
            for key, window, _ in sending:
                next(replies), next(replies)
                current, previous = next(replies)
                if (known := self._counts.get(key)) is not None:
                    known.index = int(now // window)
                    known.current, known.previous = int(current or 0), int(previous or 0)

    def _round_trip(self, commands: list[tuple[str, ...]]) -> list[Any]:
        kept = self._client.kept()
        if kept is not None:
            return kept.round_trip(packed(*commands), len(commands))
        pipeline = self._client().pipeline(transaction=False)
        for command in commands:
            pipeline.execute_command(*command)
        return list(pipeline.execute())

    def close(self) -> None:
        self._sharing_in = None
        self._client.close()
