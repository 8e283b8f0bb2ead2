"""A unit of work: what one request writes, committed together, or not at all.

An `Idempotency-Key` (app/entrypoints/http/idempotency.py) needs a request's effect and the answer
that reports it in one transaction, so that a crash at any moment leaves both or neither: a retry
then either replays the answer or runs the request for the first time, and never does it twice.

Inside `unit_of_work()`, a SQL store runs every statement from its first write on in one
transaction of the unit's, committed when the block ends without an error and rolled back
otherwise; reads before the first write need no transaction and take none. A write that fails
inside a unit fails the unit: its error must reach the unit's end, which rolls back (PostgreSQL
takes no more statements in a transaction after a failed one). What must not happen
before that commit waits in `after_commit` (a job's message: a worker would look for a job that is
not there yet), and what must happen however the unit ends waits in `when_done` (a revision
board's unmark: readers must not cache a revision until the write is visible). Outside a unit,
both run at once, so code written for a unit works without one.

The in-memory store takes no part: each of its writes is atomic on its own, and a crash of its
process takes every key and effect with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any


class Unit:
    def __init__(self) -> None:
        #: The transactions joined, in the order they were; closed (committed or rolled back) in
        #: reverse when the unit ends.
        self.resources = ExitStack()
        self._joined: dict[int, Any] = {}
        self.committed: list[Callable[[], None]] = []
        self.done: list[Callable[[], None]] = []

    def joined(self, owner: object) -> Any | None:
        """What `owner` (a store) opened in this unit, if it opened anything yet."""
        return self._joined.get(id(owner))

    def join(self, owner: object, opening: Callable[[], AbstractContextManager[Any]]) -> Any:
        """What `owner` opened in this unit; opened now (and closed with the unit) the first
        time it asks."""
        if id(owner) not in self._joined:
            self._joined[id(owner)] = self.resources.enter_context(opening())
        return self._joined[id(owner)]


_current: ContextVar[Unit | None] = ContextVar("unit_of_work", default=None)


def current() -> Unit | None:
    return _current.get()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Everything the stores write inside the block commits together at its end (see the
    module); an exception rolls all of it back, and propagates."""
    if _current.get() is not None:
        raise RuntimeError("a unit of work is already open")
    unit = Unit()
    token = _current.set(unit)
    try:
        with unit.resources:
            yield
    finally:
        _current.reset(token)
        for callback in unit.done:
            callback()
    for callback in unit.committed:
        callback()


def after_commit(callback: Callable[[], None]) -> None:
    """Runs `callback` once the open unit has committed (never, if it rolls back); at once when
    no unit is open. What it raises, the unit's block raises."""
    unit = _current.get()
    if unit is None:
        callback()
    else:
        unit.committed.append(callback)


def when_done(callback: Callable[[], None]) -> None:
    """Runs `callback` once the open unit has ended, however it ended; at once when none is."""
    unit = _current.get()
    if unit is None:
        callback()
    else:
        unit.done.append(callback)
