"""Settings: defaults here, each overridable by an `ACCOUNTS_`-prefixed environment variable
(`ACCOUNTS_SEED_DATA=other.json` sets SEED_DATA), then by the mapping given to create_app."""

from __future__ import annotations


class DefaultConfig:
    #: Seed file loaded into the in-memory store at start; relative to the working directory.
    SEED_DATA = "seed_data.json"
