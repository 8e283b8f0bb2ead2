"""A repository whose every call's duration is observed, labelled by the method's name."""

from __future__ import annotations

from typing import Any

from app.adapters.metrics import REPOSITORY_LATENCY
from app.services.repositories import AccountRepository


class TimedRepository:
    """The repository, with every call's duration observed, labelled by the method's name."""

    def __init__(self, repository: AccountRepository) -> None:
        self._repository = repository

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._repository, name)
        if not callable(method):
            return method
        observe = REPOSITORY_LATENCY.labels(name).time

        def timed(*args: Any, **kwargs: Any) -> Any:
            with observe():
                return method(*args, **kwargs)

        # Kept, so that later calls find it as an attribute and skip __getattr__ and the lookup.
        setattr(self, name, timed)
        return timed


def timed_repository(repository: AccountRepository) -> AccountRepository:
    # Duck-typed on purpose: it answers every method the interface has, by delegation.
    timed: AccountRepository = TimedRepository(repository)  # type: ignore[assignment]
    return timed
