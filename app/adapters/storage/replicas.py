"""Reads from PostgreSQL streaming replicas, never older than a write already acknowledged.

"Sticking" by WAL position, as GitLab's database load balancing does it: every write to a user
leaves on the revision board where the primary's WAL stood once it was done
(app/adapters/storage/revisions.py). A user's accounts are read from a replica only if that
replica has replayed past the position (checked on the replica the read goes to, not on another:
GitLab's issue 413203); while a write to the user is in progress, when Redis cannot say, or when
the board holds no position for the user (noted then for the reads after), from the primary. The
revision a cached read is keyed by comes from the board, or the primary.

Each process watches its replicas from a thread of its own, every CHECK_SECONDS: where the primary's
WAL stands, and how far each replica has replayed it (one small query to each, four times a
second per process). A replica that fails to answer, has not
answered for SILENT_AFTER_SECONDS, or has not replayed what the primary had written `max_lag`
seconds ago, is left out until it has; a read that fails on a replica leaves it out at once and
goes to the primary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from app.adapters.metrics import REPLICA_BEHIND_BYTES, REPLICA_READS
from app.adapters.storage.revisions import RevisionBoardStore
from app.adapters.storage.sql import SqlAccountRepository
from app.domain.accounts import Account, AccountType
from app.domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

#: How often each process asks the primary and its replicas where their WAL stands.
CHECK_SECONDS = 0.25
#: A replica whose last answer to the watch is older than this is left out: one that went silent
#: (a host gone without a word) holds the watch's query until it times out.
SILENT_AFTER_SECONDS = 1.0

T = TypeVar("T")


@dataclass
class Replica:
    name: str
    store: SqlAccountRepository
    #: How far it had replayed when last asked, and when it answered (time.monotonic()).
    replayed: int = 0
    answered_at: float = 0.0
    in_rotation: bool = False


class ReplicaReads:
    """The store GET and HEAD requests read: a user's accounts from a replica that has replayed
    the user's last write, else from the primary; everything else from the primary."""

    def __init__(
        self,
        primary: RevisionBoardStore,
        replicas: Sequence[SqlAccountRepository],
        written_position: Callable[[], int],
        max_lag_seconds: float,
    ) -> None:
        self._primary = primary
        self._board = primary.board
        self._written_position = written_position
        self.replicas = [Replica(store.host, store) for store in replicas]
        self._max_lag = max_lag_seconds
        #: (when, where the primary's WAL stood), for the last max_lag seconds and one more.
        self._written: deque[tuple[float, int]] = deque()
        self._watching_in: int | None = None
        self._stopped = threading.Event()
        self._next = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._primary, name)

    def close(self) -> None:
        """Stops the watch and releases the replicas' connections; used again, it starts over."""
        self._stopped.set()
        self._watching_in = None
        for replica in self.replicas:
            replica.in_rotation = False
            replica.store.close()

    def list_accounts(
        self, user_id: str, types: Collection[AccountType] | None = None
    ) -> list[Account]:
        return self._read(user_id, lambda store: store.list_accounts(user_id, types))

    def get_account(self, user_id: str, account_id: str) -> Account:
        found: Account = self._read(user_id, lambda store: store.get_account(user_id, account_id))
        return found

    def user_revision(self, user_id: str) -> int:
        return self._primary.user_revision(user_id)

    def _read(self, user_id: str, read: Callable[[Any], T]) -> T:
        self._watch()
        needed = self._board.position(user_id, self._written_position)
        if needed is not None:
            for replica in self._current_for(needed):
                try:
                    found = read(replica.store)
                except StorageUnavailable as error:
                    self._leave_out(replica, f"a read failed ({error.__cause__})")
                    continue
                REPLICA_READS.labels(replica.name).inc()
                return found
        REPLICA_READS.labels("primary").inc()
        return read(self._primary)

    def _current_for(self, needed: int) -> list[Replica]:
        """Replicas in rotation that have replayed `needed`, the next one first (round robin)."""
        heard_since = time.monotonic() - SILENT_AFTER_SECONDS
        current = [
            replica
            for replica in self.replicas
            if replica.in_rotation
            and replica.replayed >= needed
            and replica.answered_at > heard_since
        ]
        if not current:
            return []
        self._next = (self._next + 1) % len(current)
        return current[self._next :] + current[: self._next]

    def _leave_out(self, replica: Replica, why: str) -> None:
        if replica.in_rotation:
            replica.in_rotation = False
            log.warning("read replica %s left out: %s; reading the primary", replica.name, why)

    def _watch(self) -> None:
        """Starts, once per process (threads do not survive gunicorn's fork), the watch."""
        if self._watching_in != os.getpid():
            self._watching_in = os.getpid()
            self._stopped.clear()
            threading.Thread(target=self._watching, name="replica-watch", daemon=True).start()

    def _watching(self) -> None:
        pid = os.getpid()
        while not self._stopped.is_set() and self._watching_in == pid:
            self.check()
            self._stopped.wait(CHECK_SECONDS)

    def check(self) -> None:
        """Asks the primary and each replica where their WAL stands, and puts each replica in
        rotation or leaves it out."""
        now = time.monotonic()
        # When the primary does not answer, its reads fail anyway: replicas keep their state.
        with contextlib.suppress(StorageUnavailable):
            self._written.append((now, self._written_position()))
        while len(self._written) > 1 and self._written[1][0] <= now - self._max_lag:
            self._written.popleft()
        # What the primary had written max_lag seconds ago (or when first asked, if later).
        required = self._written[0][1] if self._written else None
        for replica in self.replicas:
            try:
                replica.replayed = replica.store.replayed_position()
                replica.answered_at = time.monotonic()
            except StorageUnavailable as error:
                self._leave_out(replica, f"it does not answer ({error.__cause__})")
                continue
            if self._written:
                REPLICA_BEHIND_BYTES.labels(replica.name).set(
                    max(0, self._written[-1][1] - replica.replayed)
                )
            if required is None or replica.replayed < required:
                self._leave_out(replica, f"more than {self._max_lag:g} s behind")
            elif not replica.in_rotation:
                replica.in_rotation = True
                log.info("read replica %s in rotation", replica.name)
