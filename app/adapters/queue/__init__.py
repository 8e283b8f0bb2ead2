"""Running sync jobs: the queue a job is sent to, and what takes it from there.

Without a broker, jobs run on threads of the service's own process (app/adapters/queue/threads.py);
with ACCOUNTS_BROKER_URL, they go to RabbitMQ and `accounts-service worker` runs them
(app/adapters/queue/broker.py). Either way a job runs app/services/sync_jobs.py run_job.
"""
