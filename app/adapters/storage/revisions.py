"""Users' revisions kept in Redis for readers, the database staying their truth.

A cached read needs only the user's revision (app/adapters/cache.py). On a database that is a round
trip to it per request, the biggest cost of a cached read; one Redis command costs a fraction.
But a revision in Redis must never be older than the database's once a write is acknowledged,
or a cached list would outlive that write. The protocol:

- A write first marks the user in Redis (a count of writers in progress, a fresh random
  generation, the revision dropped), then writes to the database, then unmarks the user (the
  count down, another generation, the revision dropped again). If the mark cannot be made, the
  write is refused (503) with nothing written; if the unmark cannot be made, the mark stays for
  PENDING_SECONDS, and readers meanwhile read the database.
- A reader takes the revision from Redis only when no writer is marked; otherwise, or when Redis
  has none or fails, it reads the database. Having read the database, it stores that revision in
  Redis only if the user's generation is still the one it saw before its read, with no writer
  marked: any write that began since then changed the generation, so no reader can put back a
  revision older than an acknowledged write.
- Writes to every user at once (seeding, a fixture reset) do the same with one global mark and
  epoch, which every stored revision carries.

A write in progress longer than PENDING_SECONDS could let a reader store the revision from
before it; the database's bounds (statement, pool and connect timeouts: about 15 s by default)
end every write well within it.

Not used with a read replica: a revision read there may be older than the primary's, and
stored in Redis it would outlive the replica's lag.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import redis

from app.adapters.pause import Pause
from app.domain.accounts import Account
from app.domain.errors import StorageUnavailable
from app.services import unit as unit_of_work
from app.services.repositories import Store

log = logging.getLogger(__name__)

#: How long a writer's mark outlives it, should its unmark be lost.
PENDING_SECONDS = 60
#: How long an idle user's revision is kept.
KEPT_SECONDS = 86400
_PREFIX = "accounts-service:revision:"

# KEYS: the user's hash, the global hash. Fields: p, writers in progress; r, the revision;
# g, the generation; e, the global epoch the revision was stored under.
_READ = """
local u = redis.call('HMGET', KEYS[1], 'p', 'r', 'g', 'e')
local a = redis.call('HMGET', KEYS[2], 'p', 'e')
return {u[1], u[2], u[3], u[4], a[1], a[2]}
"""
# ARGV: the generation and epoch the reader saw ("" for none), the revision, the TTL.
_STORE = """
local u = redis.call('HMGET', KEYS[1], 'p', 'g')
local a = redis.call('HMGET', KEYS[2], 'p', 'e')
if (tonumber(u[1]) or 0) > 0 or (tonumber(a[1]) or 0) > 0 then return 0 end
if (u[2] or '') ~= ARGV[1] or (a[2] or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[3], 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
# KEYS: one hash (a user's, or the global one). ARGV: +1 or -1, a new generation, the TTL while
# marked, the TTL once not. The generation field is "g" for a user, "e" for everyone.
_MARK = """
local p = redis.call('HINCRBY', KEYS[1], 'p', ARGV[1])
if p < 0 then p = 0; redis.call('HSET', KEYS[1], 'p', 0) end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[2])
redis.call('HDEL', KEYS[1], 'r')
if p > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) else redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return p
"""

T = TypeVar("T")


def _text(value: bytes | None) -> str:
    return value.decode() if value is not None else ""


class RedisRevisions:
    """The board of revisions in Redis (see the module)."""

    def __init__(self, url: str, timeout_seconds: float, namespace: str) -> None:
        # One database's users, apart from another's that share this Redis.
        self._prefix = f"{_PREFIX}{namespace}:"
        #: The global mark and epoch ("*" is in no user id).
        self._everyone = self._prefix + "*"
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._read = self._client.register_script(_READ)
        self._store = self._client.register_script(_STORE)
        self._mark = self._client.register_script(_MARK)
        self._pause = Pause("revisions", "reading them from the database")

    def close(self) -> None:
        self._client.close()

    def revision(self, user_id: str, from_store: Callable[[], int]) -> int:
        """The user's revision: Redis's when it may be trusted, the store's otherwise."""
        keys = [self._prefix + user_id, self._everyone]
        if self._pause.paused():
            return from_store()
        try:
            writers, revision, generation, epoch, all_writers, current_epoch = self._read(keys)
        except redis.RedisError as error:
            self._pause.failed(error)
            return from_store()
        self._pause.answered()
        if int(writers or 0) or int(all_writers or 0):
            return from_store()  # _STORE would refuse to keep it: no need to ask
        if revision is not None and _text(epoch) == _text(current_epoch):
            return int(revision)
        found = from_store()
        try:
            self._store(keys, [_text(generation), _text(current_epoch), found, KEPT_SECONDS])
        except redis.RedisError as error:
            self._pause.failed(error)
        return found

    @contextmanager
    def writing(self, user_id: str | None) -> Iterator[None]:
        """Around a write to the user's data (None: everyone's) in the store."""
        key, field = (self._everyone, "e") if user_id is None else (self._prefix + user_id, "g")
        try:
            self._marked(key, 1, field)
        except redis.RedisError as error:
            self._pause.failed(error)
            # Written without its mark, the write could leave readers a stale revision.
            raise StorageUnavailable() from error
        try:
            yield
        finally:
            # Inside a unit of work the write is visible only once the unit commits: until
            # then, readers must keep away from the board (app/services/unit.py).
            unit_of_work.when_done(lambda: self._unmark(key, field))

    def _unmark(self, key: str, field: str) -> None:
        try:
            self._marked(key, -1, field)
        except redis.RedisError as error:
            self._pause.failed(error)
            log.warning(
                "revisions: could not unmark a write (%s); its user's reads go to the "
                "database for up to %s s",
                error,
                PENDING_SECONDS,
            )

    def _marked(self, key: str, change: int, field: str) -> None:
        generation = secrets.token_hex(8)
        self._mark([key], [change, generation, PENDING_SECONDS, KEPT_SECONDS, field])


class RevisionBoardStore:
    """A store whose users' revisions readers take from a RedisRevisions board, and whose every
    write that moves a revision is marked on it; anything else goes straight to the store."""

    def __init__(self, store: Store, board: RedisRevisions) -> None:
        self._store = store
        self._board = board

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        self._board.close()
        self._store.close()

    def user_revision(self, user_id: str) -> int:
        return self._board.revision(user_id, lambda: self._store.user_revision(user_id))

    def _marked(self, user_id: str | None, write: Callable[[], T]) -> T:
        with self._board.writing(user_id):
            return write()

    def add_user(self, user_id: str) -> None:
        self._marked(user_id, lambda: self._store.add_user(user_id))

    def delete_user(self, user_id: str) -> None:
        self._marked(user_id, lambda: self._store.delete_user(user_id))

    def add_account(self, user_id: str, *args: Any, **kwargs: Any) -> Account:
        return self._marked(user_id, lambda: self._store.add_account(user_id, *args, **kwargs))

    def modify_account(self, user_id: str, *args: Any, **kwargs: Any) -> Account:
        return self._marked(user_id, lambda: self._store.modify_account(user_id, *args, **kwargs))

    def apply_sync(self, user_id: str, *args: Any, **kwargs: Any) -> Any:
        return self._marked(user_id, lambda: self._store.apply_sync(user_id, *args, **kwargs))

    def delete_account(self, user_id: str, *args: Any, **kwargs: Any) -> None:
        self._marked(user_id, lambda: self._store.delete_account(user_id, *args, **kwargs))

    def delete_connection(self, user_id: str, connection_id: str) -> int:
        return self._marked(user_id, lambda: self._store.delete_connection(user_id, connection_id))

    def seed(self, users: Mapping[str, Sequence[Account]]) -> int:
        return self._marked(None, lambda: self._store.seed(users))

    def replace_all(self, users: Mapping[str, Sequence[Account]]) -> None:
        self._marked(None, lambda: self._store.replace_all(users))


def with_revision_board(store: Store, settings: Mapping[str, Any]) -> Store:
    """The store, with its revisions on a Redis board when the settings ask for one."""
    board = RedisRevisions(
        str(settings["REDIS_URL"]),
        float(settings["CACHE_REDIS_TIMEOUT_SECONDS"]),
        str(settings["REVISIONS_NAMESPACE"]),
    )
    # Duck-typed on purpose: it answers every method the interface has, by delegation.
    boarded: Store = RevisionBoardStore(store, board)  # type: ignore[assignment]
    return boarded
