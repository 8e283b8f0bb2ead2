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

Every script touches one key (a user's hash, tagged `{user}`, or the global one), so that a Redis
Cluster runs each on one slot, and a reader reads the two hashes side by side, in either order: a
revision is trusted only when it was stored under the global epoch that is current and unmarked,
and a global write changes that epoch when it starts and again when it ends, so no order of the
two reads lets a revision older than an acknowledged write through.

On PostgreSQL the unmark also records where the primary's WAL stood once the write was done (the
user's highest such position is kept): read replicas serve a user's reads only once they have
replayed past it (app/adapters/storage/replicas.py). A write whose position cannot be read leaves
its mark to expire, and its user's reads go to the primary meanwhile. A user whose position the
board does not hold (idle for a day, or lost with a Redis node) is read from the primary, which
notes where its WAL stands for the reads after.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from redis.exceptions import NoScriptError

from app.adapters.pause import Pause
from app.adapters.redis_client import REDIS_ERRORS, LazyRedis, packed
from app.domain.accounts import Account, AccountType
from app.domain.errors import StorageUnavailable
from app.services import unit as unit_of_work
from app.services.repositories import Listing

if TYPE_CHECKING:
    from app.adapters.storage.sql import SqlAccountRepository

log = logging.getLogger(__name__)

#: How long a writer's mark outlives it, should its unmark be lost.
PENDING_SECONDS = 60
#: How long an idle user's revision is kept.
KEPT_SECONDS = 86400
_PREFIX = "accounts-service:revision:"

# Fields of a hash: p, writers in progress; r, the revision; g, the generation (the global
# hash's: e, the epoch); e, in a user's hash, the epoch the revision was stored under; l, the
# highest WAL position a write left (16 hex digits).
_FIELDS = ("p", "r", "g", "e", "l")
_EVERYONE_FIELDS = ("p", "e", "l")
# KEYS: the user's hash. ARGV: the generation and epoch the reader saw ("" for none), the
# revision, the TTL.
_STORE = """
local u = redis.call('HMGET', KEYS[1], 'p', 'g')
if (tonumber(u[1]) or 0) > 0 or (u[2] or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[3], 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
# Keeps the higher of the hash's position and ARGV[n] ("" for none). Positions are compared by
# halves: Lua's numbers are doubles, and its string order follows the locale.
_KEEP_HIGHER = """
local function keep_higher(n)
  local new, old = ARGV[n], redis.call('HGET', KEYS[1], 'l')
  local function half(at, first) return tonumber(string.sub(at, first, first + 7), 16) end
  if new ~= '' and (not old or half(new, 1) > half(old, 1)
      or (half(new, 1) == half(old, 1) and half(new, 9) > half(old, 9))) then
    redis.call('HSET', KEYS[1], 'l', new)
  end
end
"""
# KEYS: one hash (a user's, or the global one). ARGV: +1 or -1, a new generation, the TTL while
# marked, the TTL once not, the generation's field ("g" for a user, "e" for everyone), the WAL
# position the write left.
_MARK = (
    _KEEP_HIGHER
    + """
local p = redis.call('HINCRBY', KEYS[1], 'p', ARGV[1])
if p < 0 then p = 0; redis.call('HSET', KEYS[1], 'p', 0) end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[2])
redis.call('HDEL', KEYS[1], 'r')
keep_higher(6)
if p > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) else redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return p
"""
)
# KEYS: one hash. ARGV: a WAL position, the TTL for a hash that had none.
_NOTE = (
    _KEEP_HIGHER
    + """
keep_higher(1)
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
"""
)

T = TypeVar("T")


def _text(value: bytes | None) -> str:
    return value.decode() if value is not None else ""


class _Look(NamedTuple):
    """A user's hash and the global one, as a reader found them."""

    writers: int
    revision: int | None
    generation: str
    epoch: str
    position: int | None
    all_writers: int
    current_epoch: str
    all_position: int | None

    @property
    def marked(self) -> bool:
        return self.writers > 0 or self.all_writers > 0


def _number(value: bytes | None) -> int:
    return int(value or 0)


def _position(value: bytes | None) -> int | None:
    return int(value, 16) if value else None


class RedisRevisions:
    """The board of revisions in Redis (see the module). `written_position`, when given, is
    where the primary's WAL stands now (PostgreSQL's `pg_current_wal_lsn()`)."""

    def __init__(
        self,
        url: str,
        timeout_seconds: float,
        namespace: str,
        written_position: Callable[[], int] | None = None,
    ) -> None:
        # One database's users, apart from another's that share this Redis.
        self._prefix = f"{_PREFIX}{namespace}:"
        #: The global mark and epoch ("*" is in no user id).
        self._everyone = self._prefix + "*"
        self._client = LazyRedis(url, timeout_seconds)
        self._store = Script(_STORE)
        self._mark = Script(_MARK)
        self._note = Script(_NOTE)
        self._written_position = written_position
        self._pause = Pause("revisions", "reading them from the database")

    def close(self) -> None:
        self._client.close()

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}{{{user_id}}}"

    def _look(self, user_id: str) -> _Look | None:
        """The two hashes; None when Redis cannot answer (or was paused)."""
        if self._pause.paused():
            return None
        try:
            (writers, revision, generation, epoch, position), everyone = self._hashes(user_id)
        except REDIS_ERRORS as error:
            self._pause.failed(error)
            return None
        self._pause.answered()
        return _Look(
            _number(writers),
            None if revision is None else int(revision),
            _text(generation),
            _text(epoch),
            _position(position),
            _number(everyone[0]),
            _text(everyone[1]),
            _position(everyone[2]),
        )

    def _hashes(self, user_id: str) -> list[Any]:
        """The user's hash and the global one: on one server, in one round trip on the thread's
        own connection; on a cluster, through its client (they may be on two nodes)."""
        kept = self._client.kept()
        if kept is not None:
            reading = packed(
                ("HMGET", self._key(user_id), *_FIELDS),
                ("HMGET", self._everyone, *_EVERYONE_FIELDS),
            )
            return kept.round_trip(reading, 2)
        pipeline = self._client().pipeline(transaction=False)
        pipeline.hmget(self._key(user_id), list(_FIELDS))
        pipeline.hmget(self._everyone, list(_EVERYONE_FIELDS))
        return list(pipeline.execute())

    def revision(self, user_id: str, from_store: Callable[[], int]) -> int:
        """The user's revision: Redis's when it may be trusted, the store's otherwise."""
        look = self._look(user_id)
        if look is None or look.marked:
            return from_store()  # _STORE would refuse to keep it: no need to ask
        if look.revision is not None and look.epoch == look.current_epoch:
            return look.revision
        found = from_store()
        arguments = [look.generation, look.current_epoch, found, KEPT_SECONDS]
        try:
            self._store(self._client, self._key(user_id), arguments)
        except REDIS_ERRORS as error:
            self._pause.failed(error)
        return found

    def position(self, user_id: str, written_now: Callable[[], int] | None = None) -> int | None:
        """The highest WAL position a write to the user (or to everyone) left; None while a
        write is in progress, when Redis cannot say, or when the board holds no position: then
        only the primary is sure to be current. In the last case, `written_now` (where the
        primary's WAL stands) is noted for the reads after (see `note_position`)."""
        look = self._look(user_id)
        if look is None or look.marked:
            return None
        if look.position is None or look.all_position is None:
            if written_now is not None:
                with contextlib.suppress(StorageUnavailable):
                    self.note_position(user_id, written_now())
            return None
        return max(look.position, look.all_position)

    def note_position(self, user_id: str, position: int) -> None:
        """Notes `position` (where the primary's WAL stands now, past every write acknowledged
        so far) for the user and for everyone, where the board holds none or a lower one."""
        noted = f"{position:016x}"
        try:
            for key in (self._key(user_id), self._everyone):
                self._note(self._client, key, [noted, KEPT_SECONDS])
        except REDIS_ERRORS as error:
            self._pause.failed(error)

    @contextmanager
    def writing(self, user_id: str | None) -> Iterator[None]:
        """Around a write to the user's data (None: everyone's) in the store."""
        key, field = (self._everyone, "e") if user_id is None else (self._key(user_id), "g")
        try:
            self._marked(key, 1, field, "")
        except REDIS_ERRORS as error:
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
        position = ""
        if self._written_position is not None:
            try:
                position = f"{self._written_position():016x}"
            except StorageUnavailable as error:
                log.warning(
                    "revisions: could not read where the WAL stands after a write (%s); its "
                    "user's reads go to the primary for up to %s s",
                    error.__cause__,
                    PENDING_SECONDS,
                )
                return
        try:
            self._marked(key, -1, field, position)
        except REDIS_ERRORS as error:
            self._pause.failed(error)
            log.warning(
                "revisions: could not unmark a write (%s); its user's reads go to the "
                "database for up to %s s",
                error,
                PENDING_SECONDS,
            )

    def _marked(self, key: str, change: int, field: str, position: str) -> None:
        generation = secrets.token_hex(8)
        arguments = [change, generation, PENDING_SECONDS, KEPT_SECONDS, field, position]
        self._mark(self._client, key, arguments)


class Script:
    """A Lua script on one key, run by its digest (loaded again wherever a node lacks it)."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._digest = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: LazyRedis, key: str, arguments: Sequence[Any]) -> Any:
        """Runs on the thread's kept connection on one server, through the client on a
        cluster (which finds the key's node)."""
        kept = client.kept()
        texts = [str(argument) for argument in arguments]
        try:
            if kept is not None:
                return kept.round_trip(packed(("EVALSHA", self._digest, "1", key, *texts)), 1)[0]
            return client().evalsha(self._digest, 1, key, *texts)
        except NoScriptError:
            if kept is not None:
                return kept.round_trip(packed(("EVAL", self._source, "1", key, *texts)), 1)[0]
            return client().eval(self._source, 1, key, *texts)


class RevisionBoardStore:
    """A store whose users' revisions readers take from a RedisRevisions board, and whose every
    write that moves a revision is marked on it; anything else goes straight to the store."""

    def __init__(self, store: SqlAccountRepository, board: RedisRevisions) -> None:
        self._store = store
        self.board = board

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        self.board.close()
        self._store.close()

    def user_revision(self, user_id: str) -> int:
        return self.board.revision(user_id, lambda: self._store.user_revision(user_id))

    def listing(self, user_id: str, types: Collection[AccountType] | None = None) -> Listing:
        """The board's revision when it has one; else the store's, read with the accounts (a
        cold user's list is wanted next)."""
        read_with_it: list[Account] | None = None

        def from_store() -> int:
            nonlocal read_with_it
            revision, read_with_it = self._store.revision_with_accounts(user_id, types)
            return revision

        revision = self.board.revision(user_id, from_store)
        return Listing(revision, read_with_it)

    def _marked(self, user_id: str | None, write: Callable[[], T]) -> T:
        with self.board.writing(user_id):
            return write()

    def add_user(self, user_id: str) -> None:
        self._marked(user_id, lambda: self._store.add_user(user_id))

    def delete_user(self, user_id: str) -> None:
        self._marked(user_id, lambda: self._store.delete_user(user_id))

    def set_base_currency(self, user_id: str, currency: str) -> None:
        self._marked(user_id, lambda: self._store.set_base_currency(user_id, currency))

    def add_account(self, user_id: str, *args: Any, **kwargs: Any) -> Account:
        return self._marked(user_id, lambda: self._store.add_account(user_id, *args, **kwargs))

    def modify_account(self, user_id: str, *args: Any, **kwargs: Any) -> Account:
        return self._marked(user_id, lambda: self._store.modify_account(user_id, *args, **kwargs))

    def merge_account(self, user_id: str, *args: Any, **kwargs: Any) -> Account:
        return self._marked(user_id, lambda: self._store.merge_account(user_id, *args, **kwargs))

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


def with_revision_board(
    store: SqlAccountRepository,
    settings: Mapping[str, Any],
    written_position: Callable[[], int] | None = None,
) -> RevisionBoardStore:
    """The store, with its revisions on a Redis board; `written_position` (PostgreSQL's), so
    that replicas can tell which users they are current for."""
    board = RedisRevisions(
        str(settings["REDIS_URL"]),
        float(settings["CACHE_REDIS_TIMEOUT_SECONDS"]),
        str(settings["REVISIONS_NAMESPACE"]),
        written_position,
    )
    return RevisionBoardStore(store, board)
