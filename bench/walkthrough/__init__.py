"""The measurements of docs/walkthrough.md, one chapter of the design at a time.

    .venv/bin/python -m bench.walkthrough CHAPTER [--seconds 5] [--postgres URL] [--redis URL]
                                                  [--rabbitmq URL]

CHAPTER is one of memory, database, cache, gateway, monitoring, queue, scale, hosts, history. Each
starts what it needs on free ports (gunicorn with the project's gunicorn.conf.py, the provider
sandbox, sync workers), against this machine's PostgreSQL, Redis and RabbitMQ; to show what a
reader sees when one of them goes away, it serves through a TCP proxy that it cuts (loads go
straight to the servers). `hosts` starts its own PostgreSQL primary and streaming standby,
PgBouncer and Redis Cluster from Debian's packages (harness/engines.py), and kills them. Loads
are wrk's (installed from Debian's packages when missing), for --seconds each
(WALKTHROUGH_SECONDS, else 5).
It prints what it measured and saw, and exits 1 if anything was not as the walkthrough says.

Chapters from `database` on use the PostgreSQL database `accounts_walkthrough` beside the one in
--postgres: made afresh by `database` (20,000 synthetic users u0…, five accounts each, plus the
bundled seed), and made by any later chapter that finds it missing.
"""
