"""The schedule: every connection refreshed each interval, safe on any number of hosts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from app.domain.connections import Connection
from app.domain.errors import (
    ConnectionDisconnected,
    ConnectionNotFound,
    QueueUnavailable,
    UserNotFound,
)
from app.services.aggregation import Aggregation, NothingToDo, due_at
from app.services.linking import request_sync


def schedule_due(aggregation: Aggregation, now: datetime, limit: int = 100) -> int:
    """Requests a sync of each connection whose scheduled time has come; how many it requested.

    Safe on any number of hosts at once: a connection is claimed (its next time moved on) in one
    write before its sync is requested, and a claim that finds the time already moved is dropped.
    """
    interval = aggregation.policy.interval
    if interval is None:
        return 0
    connections = aggregation.connections
    requested = 0
    for user_id, due in connections.due_connections(now, limit):

        def claim(current: Connection) -> Connection:
            if current.next_sync_at is None or current.next_sync_at > now:
                raise NothingToDo()
            return replace(current, next_sync_at=now + interval)

        try:
            connections.modify_connection(user_id, due.id, claim)
            request_sync(aggregation, user_id, due.id, now)
        except (NothingToDo, UserNotFound, ConnectionNotFound, ConnectionDisconnected):
            continue
        except QueueUnavailable:
            # It keeps its place in line, and the rest wait for the next pass: the queue is down.
            connections.modify_connection(user_id, due.id, due_at(due.next_sync_at))
            break
        requested += 1
    return requested
