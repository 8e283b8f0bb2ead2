"""The documentation site: `mkdocs build --strict` builds it (a broken link, a missing page or a
snippet that names no file fails), and the README stays a README: its first screen, not the
manual."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import REPO_ROOT

README_MOST_BYTES = 16 * 1024


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    pages = {path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("index.html")}
    assert {"index.html", "api/index.html", "benchmarks/index.html"} <= pages
    # The benchmarks page is bench/README.md itself, not a copy of it.
    assert "Speed" in (tmp_path / "benchmarks" / "index.html").read_text()


def test_the_readme_is_the_first_screen_and_links_to_every_page() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.encode()) <= README_MOST_BYTES
    pages = sorted(path.name for path in (REPO_ROOT / "docs").glob("*.md"))
    unlinked = [page for page in pages if page != "index.md" and f"(docs/{page})" not in readme]
    assert not unlinked, f"the README links to no {unlinked}"
