"""Jobs on the service's own threads (no broker): each sent job runs once on a thread, again when
its run asks (or the store was away), never again after a bug; closing drops what waits."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.adapters.queue import threads
from app.adapters.queue.threads import InProcessQueue
from app.domain.errors import StorageUnavailable


@pytest.fixture
def queue() -> Iterator[InProcessQueue]:
    made = InProcessQueue(2)
    yield made
    made.close()


def test_a_job_runs_on_a_thread_of_its_own_with_its_ids(queue: InProcessQueue) -> None:
    ran: list[tuple[str, str, str]] = []
    done = threading.Event()

    def run(user_id: str, job_id: str) -> float | None:
        ran.append((user_id, job_id, threading.current_thread().name))
        done.set()
        return None

    queue.serve(run)
    queue.send("u1", "job-1")
    assert done.wait(5)
    [(user_id, job_id, thread)] = ran
    assert (user_id, job_id) == ("u1", "job-1")
    assert thread.startswith("sync-job")
    assert queue.depth() == 0


def test_a_run_that_asks_for_another_is_sent_again_after_its_delay(
    queue: InProcessQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threads, "STORE_RETRY_SECONDS", 0.01)
    answers: list[float | Exception | None] = [0.01, StorageUnavailable(), None]
    calls: list[str] = []
    done = threading.Event()

    def run(user_id: str, job_id: str) -> float | None:
        calls.append(job_id)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            done.set()
        return answer

    queue.serve(run)
    queue.send("u1", "job-1")
    assert done.wait(5)
    assert calls == ["job-1", "job-1", "job-1"]  # a delay asked for, the store away, then done


def test_a_bug_is_logged_and_never_tried_again_in_a_loop(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    logged = threading.Event()

    def run(user_id: str, job_id: str) -> float | None:
        calls.append(job_id)
        logged.set()
        raise RuntimeError("a bug")

    queue.serve(run)
    queue.send("u1", "job-1")
    assert logged.wait(5)
    queue.close()  # waits for nothing, but nothing is resent either
    assert calls == ["job-1"]


def test_a_delayed_job_waits_and_closing_drops_it(queue: InProcessQueue) -> None:
    calls: list[str] = []

    def run(user_id: str, job_id: str) -> float | None:
        calls.append(job_id)
        return None

    queue.serve(run)
    queue.send("u1", "later", delay=60)
    assert queue.depth() == 1
    queue.close()
    assert calls == []
