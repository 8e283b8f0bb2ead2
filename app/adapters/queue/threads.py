"""Jobs on threads of the service's own process: what runs them when no broker is configured,
so that the demo and the fixture server link and sync with nothing else installed.

Nothing survives the process: a job queued when it stops is taken for lost once its lease runs
out, and the next request for that connection replaces it (app/services/linking.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from app.domain.errors import StorageUnavailable
from app.services.queue import JobQueue

log = logging.getLogger(__name__)
#: Seconds before a job that found the store unavailable is tried again.
STORE_RETRY_SECONDS = 5.0


class InProcessQueue(JobQueue):
    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._pending = 0
        self._timers: set[threading.Timer] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._run: Callable[[str, str], float | None] | None = None

    def serve(self, run: Callable[[str, str], float | None]) -> None:
        """Runs each job sent with `run(user_id, job_id)`, which answers when to run it again
        (seconds), or None."""
        self._run = run

    def send(self, user_id: str, job_id: str, delay: float = 0.0) -> None:
        with self._lock:
            self._pending += 1
            if delay <= 0:
                self._submit(user_id, job_id)
                return
            timer = threading.Timer(delay, self._due, (user_id, job_id))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def depth(self) -> int:
        return self._pending

    def close(self) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _due(self, user_id: str, job_id: str) -> None:
        with self._lock:
            self._timers = {timer for timer in self._timers if timer.is_alive()}
            self._submit(user_id, job_id)

    def _submit(self, user_id: str, job_id: str) -> None:
        # Threads are made on first use, not before: gunicorn forks the service after loading it,
        # and threads do not survive a fork.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="sync-job")
        self._executor.submit(self._work, user_id, job_id)

    def _work(self, user_id: str, job_id: str) -> None:
        with self._lock:
            self._pending -= 1
        if self._run is None:
            return
        try:
            again = self._run(user_id, job_id)
        except StorageUnavailable:
            again = STORE_RETRY_SECONDS
        except Exception:
            # A bug: logged, and not tried again in a loop; the job's lease runs out and the next
            # request for the connection replaces it.
            log.exception("sync job %s of user %s failed", job_id, user_id)
            return
        if again is not None:
            self.send(user_id, job_id, again)
