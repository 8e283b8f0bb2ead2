"""What speaks to the world, behind what the services declare: storage, providers (our clients),
the job queue, the response cache, Redis, tokens, sealing, webhook signatures, exact JSON, logs
and metrics."""
