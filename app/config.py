"""Settings: defaults here, each overridable by an `ACCOUNTS_`-prefixed environment variable
(`ACCOUNTS_SEED_DATA=other.json` sets SEED_DATA), then by the mapping given to create_app."""

from __future__ import annotations


class DefaultConfig:
    #: Seed file loaded into the in-memory store at start; relative to the working directory.
    SEED_DATA = "seed_data.json"
    #: Adds GET /export and POST /reset, which read and replace every user's data at once.
    FIXTURE_MODE = False
    #: Request bodies larger than this are refused with 413; an account is well under 1 KiB.
    MAX_CONTENT_LENGTH = 64 * 1024
