"""What the service is made of, built once from its settings: the one place the parts are wired.

The HTTP layer reads these components (app/api/context.py); so could a worker or a command that
needs the same parts without Flask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.cache import ResponseCache, build_cache
from app.config import ConfigurationError
from app.domain import Account, StorageUnavailable
from app.repositories import build_stores
from app.repositories.base import AccountRepository, StoreAdministration
from app.repositories.timed import timed_repository
from app.seed import load_seed_file
from app.services import store as store_service
from app.tokens import TokenVerifier, token_verifier


@dataclass(frozen=True)
class Components:
    #: For writes, and for every read that is part of a write.
    repository: AccountRepository
    #: For reads that are not part of a write: a replica when one is configured.
    read_repository: AccountRepository
    #: The whole stores, by the name readiness reports them under ("database", "read replica").
    stores: Mapping[str, StoreAdministration]
    cache: ResponseCache
    #: What checks bearer tokens; None when authentication is off.
    verifier: TokenVerifier | None
    #: The data loaded at start, which fixture mode's empty reset goes back to.
    seed: Mapping[str, Sequence[Account]]

    @property
    def store(self) -> StoreAdministration:
        """The primary store, whole."""
        return self.stores["database"]

    def close(self) -> None:
        """Releases every connection; the components reconnect if used again."""
        for store in self.stores.values():
            store.close()
        self.cache.close()


def build_components(settings: Mapping[str, Any]) -> Components:
    """Raises ConfigurationError, with a one-line reason, when the settings cannot work."""
    # Checked first: a missing key is a configuration error whatever state the database is in.
    verifier = token_verifier(settings)
    seed_file = settings["SEED_DATA"]
    seed = load_seed_file(Path(str(seed_file))) if seed_file else {}
    primary, replica = build_stores(settings)
    try:
        store_service.seed_if_empty(primary, seed)
    except StorageUnavailable as error:
        raise ConfigurationError(f"cannot seed the store: {error.__cause__}") from None
    timed = timed_repository(primary)
    stores: dict[str, StoreAdministration] = {"database": primary}
    if replica is not None:
        stores["read replica"] = replica
    return Components(
        repository=timed,
        read_repository=timed if replica is None else timed_repository(replica),
        stores=stores,
        cache=build_cache(settings),
        verifier=verifier,
        seed=seed,
    )
