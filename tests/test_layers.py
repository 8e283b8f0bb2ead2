"""Requests flow api -> services -> repositories; no module imports a layer above its own, and
nothing below the HTTP layer reaches Flask, directly or through any module it imports."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# For each layer, the packages it must never import.
FORBIDDEN = {
    "domain": {"app", "flask", "werkzeug", "marshmallow"},
    "repositories": {"app.api", "app.services", "flask", "werkzeug"},
    "services": {"app.api", "flask", "werkzeug"},
    "schemas": {"app.api", "app.services", "app.repositories", "flask", "werkzeug"},
}

# The HTTP layer and what starts it: the only modules that may use Flask.
HTTP_LAYER = {"app", "app.api", "app.cli", "app.fixture_server", "app.provider_sandbox"}
WEB_PACKAGES = ("flask", "werkzeug", "flask_cors", "app.api")


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
            # `from app.api import accounts` imports the module app.api.accounts.
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


def files_of(layer: str) -> list[Path]:
    single = APP / f"{layer}.py"
    return [single] if single.exists() else sorted((APP / layer).glob("*.py"))


def within(module: str, packages: set[str] | tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    files = files_of(layer)
    assert files
    for path in files:
        for module in imported_modules(path):
            assert not within(module, FORBIDDEN[layer]), (
                f"{path.relative_to(APP.parent)} imports {module}"
            )


BELOW_HTTP = sorted(
    name
    for name in map(module_name, APP.rglob("*.py"))
    if name not in HTTP_LAYER and not within(name, {"app.api"})
)


def test_the_modules_below_http_are_all_checked() -> None:
    assert {"app.services.accounts", "app.repositories.sql", "app.cache", "app.config"} <= set(
        BELOW_HTTP
    )


@pytest.mark.parametrize("module", BELOW_HTTP)
def test_nothing_below_the_http_layer_reaches_flask(module: str) -> None:
    web = sorted(imported for imported in reached(module) if within(imported, WEB_PACKAGES))
    assert not web, f"{module} reaches {', '.join(web)}"
