"""How every route reaches the app's components (app/wiring.py): the same way, from here."""

from __future__ import annotations

from flask import Flask, current_app, request

from app.services.repositories import AccountRepository
from app.wiring import Components

COMPONENTS_KEY = "accounts-service"


def components_of(app: Flask) -> Components:
    found: Components = app.extensions[COMPONENTS_KEY]
    return found


def components() -> Components:
    """The components of the app handling the current request."""
    return components_of(current_app)


def repository() -> AccountRepository:
    """The repository for this request: GET and HEAD may read a replica; every step of a write,
    its reads included, goes to the primary."""
    found = components()
    return found.read_repository if request.method in ("GET", "HEAD") else found.repository
