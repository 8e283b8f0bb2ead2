"""Requests flow api -> services -> repositories; no module imports a layer above its own."""

from __future__ import annotations

import ast
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


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def files_of(layer: str) -> list[Path]:
    single = APP / f"{layer}.py"
    return [single] if single.exists() else sorted((APP / layer).glob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    files = files_of(layer)
    assert files
    for path in files:
        for module in imported_modules(path):
            assert not any(
                module == forbidden or module.startswith(forbidden + ".")
                for forbidden in FORBIDDEN[layer]
            ), f"{path.relative_to(APP.parent)} imports {module}"
