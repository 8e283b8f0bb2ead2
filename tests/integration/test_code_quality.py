"""The suite holds the code to its standards, so the one README test command checks them all."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from harness import REPO_ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
        [
            "bandit",
            "--quiet",
            "--recursive",
            "app",
            "wsgi.py",
            "gunicorn.conf.py",
            "plugins",
        ],
    ],
    ids=" ".join,
)
def test_tool_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def readme_command(heading: str) -> str:
    """The shell command in the README code block that follows the line naming `heading`."""
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(rf"{heading}.*?\n```(?:sh|bash)?\n(.+?)\n```", readme, re.DOTALL)
    assert match, f"no command after {heading!r} in README.md"
    return match.group(1)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_script = (REPO_ROOT / ".ci" / "run").read_text()
    assert readme_command("To run the tests") in ci_script.splitlines()
