"""gunicorn settings for accounts-service, shipped in the package: `accounts-service run` serves
with them (`gunicorn -c python:app.entrypoints.gunicorn_settings`), as does the repository's
`gunicorn.conf.py`, which only imports them."""

import gc
import os
import shutil
import tempfile
from typing import Any

__all__ = [
    "accesslog",
    "bind",
    "child_exit",
    "control_socket_disable",
    "keepalive",
    "on_exit",
    "on_starting",
    "preload_app",
    "threads",
    "when_ready",
    "worker_class",
    "workers",
]

# PORT as the design card names it; 127.0.0.1 unless HOST says otherwise (0.0.0.0 in a container).
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# Chosen by measurement: bench/README.md, "Worker settings" and (for the threads on a database)
# "Production as shipped, against the floor", have the figures.
# Without a database the store lives in this process's memory: several worker processes would each
# hold a copy, and a write to one would never reach the others, so one process serves. Its work
# is all CPU under one GIL, so more threads only add hand-offs between them. gthread's poller
# still keeps many connections alive at once.
# With a database every process sees the same data: one process per core (at least two, so that
# one busy or restarting process never stops the service), with 2 threads each, so that a process
# does not wait out a slow query alone; cached reads no longer wait on the database at all, and 4
# threads only added hand-offs (p99 at half the peak 17 ms with 4, 7 ms with 2).
_on_database = bool(os.environ.get("ACCOUNTS_DATABASE_URL"))
workers = max(2, os.cpu_count() or 1) if _on_database else 1
worker_class = "gthread"
threads = 2 if _on_database else 1
# Clients (and a proxy in front) reuse connections; 5 s outlasts the gaps between their requests.
keepalive = 5

# Load the app (and validate the seed file) in the master before binding the port, so a bad seed
# file stops start-up with its one-line message instead of a worker boot loop.
preload_app = True

# No access log of gunicorn's: the app writes one JSON line per request (app/adapters/logs.py).
accesslog = None

# gunicorn 27's control socket sits at one fixed path per machine, so a second instance (a test, a
# fixture server beside a dev server) would fight over it; nothing here uses `gunicornc`.
control_socket_disable = True

# Prometheus metrics from several worker processes: each writes its counts to files in this
# directory, which /metrics adds up. prometheus_client decides this when it is imported, so the
# variable is set, and the directory emptied (an earlier run's counts would add to this one's),
# here, when the configuration loads, before the app does; the default is one per server.
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"accounts-service-metrics-{os.getpid()}"),
)
shutil.rmtree(metrics_dir, ignore_errors=True)
os.makedirs(metrics_dir)


def on_starting(server: Any) -> None:
    # The answers gunicorn writes itself (a request it cannot parse) are problem+json too.
    from app.entrypoints.http.server_errors import install

    install(server)


def when_ready(server: Any) -> None:
    # The app is loaded (preload_app) and no worker forked yet: what it holds from now on is
    # never garbage, so the collector need not walk it again in every worker. A full collection
    # walked 130,000 objects; frozen, a two-year net-worth series' p99 fell from 72 to 38 ms
    # (bench/README.md, "Balance history at scale").
    gc.collect()
    gc.freeze()


def on_exit(server: Any) -> None:
    # The demo's provider sandbox, when app.entrypoints.wsgi started one, goes with the server.
    from app.entrypoints.sandbox_beside import stop_started

    stop_started()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
