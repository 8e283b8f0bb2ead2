"""A server that failed, left alone for a moment (a circuit breaker): shared by every use of
Redis that has a fallback (the response cache, the revision board, the rate limits), and by the
job queue's sends to RabbitMQ."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

#: How long a Redis that failed is left alone.
PAUSE_SECONDS = 1.0


class Pause:
    """After a failure the server is left alone for `seconds`, so that an outage costs one
    timeout per pause rather than one per request; the failure is logged once, and so is the
    return."""

    def __init__(
        self, use: str, meanwhile: str, seconds: float = PAUSE_SECONDS, server: str = "Redis"
    ) -> None:
        self._use = use
        self._meanwhile = meanwhile
        self._seconds = seconds
        self._server = server
        self._until = 0.0
        self._down = False
        self._lock = threading.Lock()

    def paused(self) -> bool:
        return time.monotonic() < self._until

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._until = time.monotonic() + self._seconds
            if not self._down:
                self._down = True
                log.warning(
                    "%s: %s failed (%s); %s", self._use, self._server, error, self._meanwhile
                )

    def answered(self) -> None:
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    log.info("%s: %s is back", self._use, self._server)
