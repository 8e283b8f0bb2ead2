"""Tests against real servers through their clients: PostgreSQL, Redis and RabbitMQ (those on this
machine, or a throwaway database on them), the provider sandbox over HTTP, and the code tools."""
