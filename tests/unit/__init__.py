"""Tests with no server and no network: the domain, the services over the in-memory store, the
schemas, and the HTTP layer through Flask's test client. `pytest tests/unit` runs in seconds."""
