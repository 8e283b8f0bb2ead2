"""Debian's Chromium for the page tests: where it is, and the flags every headless run takes."""

from __future__ import annotations

import shutil

from tests.databases import unavailable

FLAGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    # This machine's network is closed: Chromium's own calls home would only be refused.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """The path of Debian's chromium; the test is skipped (or fails, where required) without."""
    found = shutil.which("chromium")
    if found is None:
        unavailable("Debian's chromium is not installed (.ci/run installs it)")
    return found
