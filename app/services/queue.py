"""What the services need of a job queue."""

from __future__ import annotations

from abc import ABC, abstractmethod


class JobQueue(ABC):
    @abstractmethod
    def send(self, user_id: str, job_id: str, delay: float = 0.0) -> None:
        """Queues the job, to run after `delay` seconds at the soonest. Delivered at least once.

        Raises QueueUnavailable when the queue cannot take it.
        """

    def depth(self) -> int | None:
        """How many jobs wait to run, when the queue can tell."""
        return None

    def close(self) -> None:  # noqa: B027 (a queue without connections holds nothing)
        """Stops taking jobs and releases connections."""
