"""Jobs through RabbitMQ, with Dramatiq: the service sends, `accounts-service worker` runs.

Dramatiq acknowledges a message only once its job's attempt has ended, so a worker killed in the
middle of a sync leaves the message to be delivered again (at least once). Retries are the
service's decision (app/services/sync_jobs.py run_job answers when to try again) carried out
with Dramatiq's Retry; a job that runs out of attempts, and a message no actor can take (the
wrong arguments, undecodable), end in the queue's dead-letter queue (`<queue>.XQ`, e.g.
`accounts-sync.XQ`), not in a loop.

A send never holds a request for long: RabbitMQ that refuses costs it nothing, and RabbitMQ that
accepts and then says nothing (a paused broker, a stuck load balancer) SEND_TIMEOUT_SECONDS at
most, after which, for PAUSE_SECONDS, every send is refused at once (the 503's Retry-After).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import BrokerConnectionError, Retry
from dramatiq.middleware import default_middleware

from app.adapters.pause import Pause
from app.domain.errors import QueueUnavailable, StorageUnavailable
from app.services.aggregation import Attempt
from app.services.queue import JobQueue

ACTOR_NAME = "sync_connection"
#: Redeliveries for failures that are not the provider's (the store unavailable); the provider's
#: are counted by the job itself.
MAX_REDELIVERIES = 20
#: Longest one attempt may run before Dramatiq interrupts it, in milliseconds.
TIME_LIMIT_MS = 5 * 60 * 1000
#: Longest a send waits for RabbitMQ: connecting, opening a channel, declaring the queue,
#: publishing and the publisher confirm, all together.
SEND_TIMEOUT_SECONDS = 2.0
#: After a send waited that long in vain, how long every send is refused at once (the 503's
#: Retry-After).
PAUSE_SECONDS = 5.0


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
        # Each wait of pika's own bounded too, so that a send given up on (BrokerQueue.send)
        # does not hold its thread for long either: connecting, the whole AMQP handshake, and a
        # broker that says it is blocked (out of memory or disk). Longer than a send's own
        # bound, which is the one a request meets.
        parameters.connection_attempts = 1
        parameters.socket_timeout = 2 * SEND_TIMEOUT_SECONDS
        parameters.stack_timeout = 2 * SEND_TIMEOUT_SECONDS
        parameters.blocked_connection_timeout = 2 * SEND_TIMEOUT_SECONDS
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
        # pika can bound neither a channel's operations nor a publisher confirm's wait on a
        # connection that went silent: sends run on a thread of their own (one, for one
        # connection: pika's are not thread-safe), and a request waits for it a bounded time.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="rabbitmq-send")
        self._pause = Pause(
            "sync queue", "refusing syncs at once for a while", PAUSE_SECONDS, "RabbitMQ"
        )

    def send(self, user_id: str, job_id: str, delay: float = 0.0) -> None:
        if self._pause.paused():
            raise QueueUnavailable()
        sending = self._sender.submit(
            self._actor.send_with_options,
            args=(user_id, job_id),
            delay=int(delay * 1000) if delay > 0 else None,
        )
        try:
            sending.result(timeout=SEND_TIMEOUT_SECONDS)
        except TimeoutError as error:
            # Still waiting on RabbitMQ: published later, if ever, its job (failed by then) is
            # skipped; not yet begun, it is not sent at all.
            sending.cancel()
            self._pause.failed(error)
            raise QueueUnavailable() from None
        except (BrokerConnectionError, pika.exceptions.AMQPError, OSError) as error:
            # Refused at once: trying costs the next request nothing, and finds RabbitMQ back
            # as soon as it is.
            raise QueueUnavailable() from error
        self._pause.answered()

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
        self._sender.shutdown(wait=False, cancel_futures=True)
        self._broker.close()
