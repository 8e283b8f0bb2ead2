"""Jobs through RabbitMQ, with Dramatiq: the service sends, `accounts-service worker` runs.

Dramatiq acknowledges a message only once its job's attempt has ended, so a worker killed in the
middle of a sync leaves the message to be delivered again (at least once). Retries are the
service's decision (app/services/connections.py run_job answers when to try again) carried out
with Dramatiq's Retry; a job that runs out of attempts, and a message no actor can take (the
wrong arguments, undecodable), end in the queue's dead-letter queue (`<queue>.XQ`, e.g.
`accounts-sync.XQ`), not in a loop.
"""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import BrokerConnectionError, Retry
from dramatiq.middleware import default_middleware

from app.domain import QueueUnavailable, StorageUnavailable
from app.jobs.base import JobQueue
from app.services.connections import Attempt

ACTOR_NAME = "sync_connection"
#: Redeliveries for failures that are not the provider's (the store unavailable); the provider's
#: are counted by the job itself.
MAX_REDELIVERIES = 20
#: Longest one attempt may run before Dramatiq interrupts it, in milliseconds.
TIME_LIMIT_MS = 5 * 60 * 1000


class GaveUp(Exception):
    """The job ran out of attempts: its message goes to the dead-letter queue, for an operator."""


def make_broker(url: str) -> RabbitmqBroker:
    broker = RabbitmqBroker(
        url=url,
        # Publisher confirms: a send returns once RabbitMQ has the message, or fails.
        confirm_delivery=True,
        middleware=[middleware() for middleware in default_middleware],
    )
    parameters = broker.parameters
    if isinstance(parameters, pika.ConnectionParameters):
        # Fail fast when RabbitMQ is away: a request that cannot queue answers 503 at once.
        parameters.connection_attempts = 1
        parameters.socket_timeout = 2
        parameters.blocked_connection_timeout = 5
    return broker


def _retry_when(retries: int, error: BaseException) -> bool:
    if isinstance(error, Retry):
        return True  # the job's own decision, with its own count
    return isinstance(error, StorageUnavailable) and retries < MAX_REDELIVERIES


def declare_actor(
    broker: dramatiq.Broker, queue_name: str, run: Callable[[str, str], Attempt] | None
) -> dramatiq.Actor[[str, str], None]:
    """The one actor, on `broker`: running each job with `run` (in a worker), or None to only
    send (in the service)."""

    def sync_connection(user_id: str, job_id: str) -> None:
        if run is None:
            raise RuntimeError("this process only sends sync jobs")
        tried = run(user_id, job_id)
        if tried.retry_in is not None:
            raise Retry(
                f"{tried.outcome}: again in {tried.retry_in:.1f} s", int(tried.retry_in * 1000)
            )
        if tried.outcome == "gave_up":
            raise GaveUp(f"sync job {job_id} of user {user_id} ran out of attempts")

    declare = dramatiq.actor(
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=queue_name,
        retry_when=_retry_when,
        throws=(GaveUp,),
        min_backoff=1000,
        max_backoff=60_000,
        time_limit=TIME_LIMIT_MS,
    )
    return declare(sync_connection)


class BrokerQueue(JobQueue):
    def __init__(self, broker: RabbitmqBroker, actor: dramatiq.Actor[[str, str], None]) -> None:
        self._broker = broker
        self._actor = actor
        self._queue_name = actor.queue_name

    def send(self, user_id: str, job_id: str, delay: float = 0.0) -> None:
        try:
            self._actor.send_with_options(
                args=(user_id, job_id), delay=int(delay * 1000) if delay > 0 else None
            )
        except (BrokerConnectionError, pika.exceptions.AMQPError, OSError) as error:
            raise QueueUnavailable() from error

    def depth(self) -> int | None:
        try:
            ready, delayed, _dead = self._broker.get_queue_message_counts(self._queue_name)
        except (BrokerConnectionError, pika.exceptions.AMQPError, OSError):
            return None
        return ready + delayed

    def dead_letters(self) -> int | None:
        try:
            return self._broker.get_queue_message_counts(self._queue_name)[2]
        except (BrokerConnectionError, pika.exceptions.AMQPError, OSError):
            return None

    def close(self) -> None:
        self._broker.close()
