"""A deadline, kept on this side of the network, for every round trip to PostgreSQL.

PostgreSQL's statement_timeout bounds a statement the server runs; it cannot bound one the server
never receives or never answers. A frozen path (a stuck middlebox, a paused connection pooler)
keeps the connection open and acknowledges every packet, so neither TCP keepalives nor
tcp_user_timeout ever fire, and the request would wait for good. So every statement, commit and
rollback also has a deadline here: a connection still waiting past it is shut down, the driver's
wait ends with an error, the request gets its 503, and the pool discards that connection.

One watcher thread per process looks ten times a second; arming and disarming cost a dictionary
write under a lock.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import suppress
from typing import Any

_CHECK_EVERY_SECONDS = 0.1


class Deadlines:
    def __init__(self) -> None:
        self._start_afresh()
        # A forked child (a gunicorn worker) has none of its parent's threads, and may have
        # inherited the lock held: it starts with its own lock, nothing armed, no watcher yet.
        os.register_at_fork(after_in_child=self._start_afresh)

    def _start_afresh(self) -> None:
        self._lock = threading.Lock()
        # id(driver connection) -> (deadline on the monotonic clock, the connection's socket)
        self._armed: dict[int, tuple[float, int]] = {}
        self._watching = False

    def arm(self, connection: Any, seconds: float) -> None:
        """`connection` (a driver connection) must have answered within `seconds`."""
        deadline = time.monotonic() + seconds
        with self._lock:
            self._armed[id(connection)] = (deadline, connection.fileno())
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._watch, name="db-deadlines", daemon=True).start()

    def disarm(self, connection: Any) -> None:
        with self._lock:
            self._armed.pop(id(connection), None)

    def pending(self) -> int:
        """How many deadlines are armed now."""
        with self._lock:
            return len(self._armed)

    def _watch(self) -> None:
        while True:
            time.sleep(_CHECK_EVERY_SECONDS)
            now = time.monotonic()
            with self._lock:
                late = [key for key, (deadline, _) in self._armed.items() if deadline <= now]
                sockets = [self._armed.pop(key)[1] for key in late]
            for descriptor in sockets:
                _cut(descriptor)


def _cut(descriptor: int) -> None:
    """Shuts the socket down (for every descriptor of it), so that a wait on it ends at once; the
    driver still owns and closes the descriptor itself."""
    with suppress(OSError), socket.socket(fileno=os.dup(descriptor)) as duplicate:
        duplicate.shutdown(socket.SHUT_RDWR)


deadlines = Deadlines()
