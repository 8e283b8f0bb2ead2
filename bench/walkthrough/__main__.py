"""`python -m bench.walkthrough CHAPTER`: a chapter, run; exits 1 if not as the page says."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench import walkthrough
from bench.walkthrough.cache import cache
from bench.walkthrough.gateway import gateway
from bench.walkthrough.history import history
from bench.walkthrough.hosts import hosts
from bench.walkthrough.monitoring import monitoring
from bench.walkthrough.one_host import database, memory
from bench.walkthrough.outcome import CannotRun, NotAsDocumented
from bench.walkthrough.scale import scale
from bench.walkthrough.sync_queue import queue
from bench.walkthrough.walk import Walk

CHAPTERS: dict[str, Callable[[Walk], None]] = {
    chapter.__name__: chapter
    for chapter in (memory, database, cache, gateway, monitoring, queue, scale, hosts, history)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=walkthrough.__doc__.split("\n\n")[0])
    parser.add_argument("chapter", choices=CHAPTERS)
    parser.add_argument(
        "--seconds", type=int, default=int(os.environ.get("WALKTHROUGH_SECONDS", "5"))
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rabbitmq", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as scratch:
        walk = Walk(args, Path(scratch))
        try:
            CHAPTERS[args.chapter](walk)
        except NotAsDocumented as failure:
            raise SystemExit(f"not as docs/walkthrough.md says: {failure}") from None
        except CannotRun as failure:
            raise SystemExit(f"cannot run this chapter: {failure}") from None
        except psycopg.OperationalError as failure:
            raise SystemExit(f"cannot run this chapter: unreachable: {failure}") from None
        finally:
            walk.close()


if __name__ == "__main__":
    main()
