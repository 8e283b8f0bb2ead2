"""The house by role, held to its direction: entry points -> services -> domain, adapters
implementing what services declare; no module imports a layer above its own, every module of
`app` belongs to a layer, and nothing outside the HTTP entry point (and what starts it) reaches
Flask, directly or through any module it imports."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

#: Libraries that speak to the world: the domain and the services use none of them.
WORLD = {"flask", "werkzeug", "sqlalchemy", "alembic", "psycopg", "redis", "pika", "dramatiq"}
WORLD |= {"httpx", "prometheus_client", "jwt", "cryptography", "gunicorn", "limits"}

# Each layer (a package or a module of `app`), and what it must never import.
FORBIDDEN = {
    "app.config": {"app.domain", "app.services", "app.adapters", "app.entrypoints", "app.wiring"},
    "app.domain": {"app.config", "app.schemas", "app.services", "app.adapters", "app.entrypoints"}
    | {"app.wiring", "marshmallow"}
    | WORLD,
    "app.schemas": {"app.services", "app.adapters", "app.entrypoints", "app.wiring"} | WORLD,
    "app.services": {"app.adapters", "app.entrypoints", "app.wiring"} | WORLD,
    "app.adapters": {"app.entrypoints", "app.wiring", "flask", "werkzeug"},
    "app.migrations": {"app.services", "app.entrypoints", "app.wiring"},
    "app.wiring": {"app.entrypoints", "flask", "werkzeug"},
    "app.entrypoints": set(),
    # `python -m app`: it only hands on to the command line.
    "app.__main__": {"app.domain", "app.schemas", "app.services", "app.adapters", "app.wiring"},
    "app": set(),
}

# The HTTP layer and what starts it: the only modules that may use Flask.
HTTP_LAYER = {"app", "app.__main__", "app.entrypoints.http", "app.entrypoints.cli"}
HTTP_LAYER |= {"app.entrypoints.fixture_server", "app.entrypoints.provider_sandbox"}
HTTP_LAYER |= {"app.entrypoints.wsgi", "app.entrypoints.gunicorn_settings"}
WEB_PACKAGES = ("flask", "werkzeug", "flask_cors", "app.entrypoints.http")


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports when it runs (in functions too; not for type checkers)."""
    modules: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            # `from app.entrypoints.http import accounts` imports the module
            # app.entrypoints.http.accounts.
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return modules


def source_of(module: str) -> Path | None:
    if module != "app" and not module.startswith("app."):
        return None
    base = APP.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@cache
def reached(module: str) -> frozenset[str]:
    """The modules `module` imports, and those they import, and so on."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        path = source_of(pending.pop())
        if path is None:
            continue
        for imported in imported_modules(path) - seen:
            seen.add(imported)
            pending.append(imported)
    return frozenset(seen)


def within(module: str, packages: set[str] | tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def layer_of(module: str) -> str:
    """The most specific layer the module is in."""
    return max((layer for layer in FORBIDDEN if within(module, {layer})), key=len)


def violations(module: str, imported: set[str]) -> list[str]:
    forbidden = FORBIDDEN[layer_of(module)]
    return sorted(name for name in imported if within(name, forbidden))


MODULES = sorted(map(module_name, APP.rglob("*.py")))


def test_every_module_of_app_is_in_a_layer_that_is_checked() -> None:
    unplaced = [module for module in MODULES if layer_of(module) == "app" and module != "app"]
    assert not unplaced, f"modules in no layer: {unplaced}"
    assert {layer_of(module) for module in MODULES} == set(FORBIDDEN)


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_a_layer_above_its_own(module: str) -> None:
    path = source_of(module)
    assert path is not None
    found = violations(module, imported_modules(path))
    assert not found, f"{module} imports above its layer: {', '.join(found)}"


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("app.domain.accounts", "app.services.accounts"),
        ("app.domain.errors", "marshmallow"),
        ("app.schemas.accounts", "app.adapters.cache"),
        ("app.services.accounts", "app.adapters.storage.sql"),
        ("app.services.sync", "sqlalchemy"),
        ("app.adapters.cache", "app.entrypoints.http.context"),
        ("app.adapters.storage.sql", "app.wiring"),
        ("app.migrations.env", "app.services.accounts"),
        ("app.wiring", "app.entrypoints.worker"),
        ("app.config", "app.domain.accounts"),
    ],
)
def test_a_planted_import_above_its_layer_is_caught(module: str, planted: str) -> None:
    path = source_of(module)
    assert path is not None
    imported = imported_modules(path)
    assert set(violations(module, imported | {planted})) - set(violations(module, imported)) == {
        planted
    }


BELOW_HTTP = sorted(name for name in MODULES if not within(name, HTTP_LAYER - {"app"}))


def test_the_modules_below_http_are_all_checked() -> None:
    assert "app" not in HTTP_LAYER - {"app"}
    assert {"app.services.accounts", "app.adapters.storage.sql", "app.entrypoints.worker"} <= set(
        BELOW_HTTP
    )


@pytest.mark.parametrize("module", [name for name in BELOW_HTTP if name != "app"])
def test_nothing_below_the_http_layer_reaches_flask(module: str) -> None:
    web = sorted(imported for imported in reached(module) if within(imported, WEB_PACKAGES))
    assert not web, f"{module} reaches {', '.join(web)}"
