"""Logs as one JSON object per line on standard output, each carrying the request's id.

The `app` logger is also Flask's `app.logger`, so the traceback Flask logs for an unexpected
exception comes out the same way, with the id that the 500 answer gives the client. The id is set
for each request by the HTTP layer (app/entrypoints/http/request_log.py), in a context variable, so
that code that logs needs to know nothing about requests.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

#: The id of the request being answered in this thread, if any.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def log_entry(created: float, level: str, logger: str, message: str) -> dict[str, Any]:
    """The fields every log line starts with."""
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": message,
    }
    if (current := request_id.get()) is not None:
        entry["request_id"] = current
    return entry


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = log_entry(record.created, record.levelname, record.name, record.getMessage())
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class StandardStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout (or stderr) is at the time, not what it was at set-up."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.stream_name = name

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = getattr(sys, self.stream_name)  # not setStream: it flushes the old one
        super().emit(record)

    def write_line(self, line: str) -> None:
        """A line formatted already, under the lock every record takes, so lines never mix."""
        self.acquire()
        try:
            stream = getattr(sys, self.stream_name)
            stream.write(line)
            stream.flush()
        finally:
            self.release()


def configure_logging(stream: str = "stdout") -> StandardStream:
    """Once per process: the `app` logger writes JSON lines to standard output (or `stderr`).

    Returns the handler, the one set up by the first call."""
    logger = logging.getLogger("app")
    for handler in logger.handlers:
        if isinstance(handler, StandardStream):
            return handler
    handler = StandardStream(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler
