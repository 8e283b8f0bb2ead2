"""docs/walkthrough.md, run: every command of its `sh` blocks, in order, with one-second loads,
against the same PostgreSQL, Redis and RabbitMQ as the other tests. The walkthrough checks what it
sees against what the page says and exits 1 otherwise, so the page cannot drift from the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from bench.walkthrough.hosts import HOSTS_PROGRAMS
from harness import REPO_ROOT
from harness.engines import missing
from tests.databases import ADMIN_URL, unavailable

WALKTHROUGH = REPO_ROOT / "docs" / "walkthrough.md"
RUN = ".venv/bin/python -m bench.walkthrough"


def commands() -> list[str]:
    text = WALKTHROUGH.read_text()
    return [
        line
        for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)
        for line in block.splitlines()
        if line.strip()
    ]


def test_there_is_a_chapter_for_every_step_in_the_design_s_order() -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "bench.walkthrough", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    chapters = re.search(r"\{([\w,]+)\}", usage)
    assert chapters
    assert commands() == [f"{RUN} {chapter}" for chapter in chapters.group(1).split(",")]


@pytest.mark.parametrize("command", commands(), ids=lambda command: command.rsplit(" ", 1)[-1])
def test_the_command_does_what_the_page_says(
    command: str, postgres_url: str, redis_url: str, rabbitmq_url: str
) -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed (.ci/run installs it)")
    if command.endswith(" hosts") and (lacking := missing(*HOSTS_PROGRAMS)):
        unavailable(f"not installed: {', '.join(lacking)} (.ci/run installs pgbouncer)")
    # The interpreter running these tests (.venv's, under the README's test command), and the
    # servers the other tests use (the fixtures have made sure each one answers).
    servers = f" --postgres {ADMIN_URL} --redis {redis_url} --rabbitmq '{rabbitmq_url}'"
    ran = subprocess.run(
        ["bash", "-c", command.replace(".venv/bin/python", sys.executable, 1) + servers],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "WALKTHROUGH_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # The heading it printed is the chapter's, as the page shows it.
    heading = ran.stdout.splitlines()[0]
    assert f"```text\n{heading}\n" in WALKTHROUGH.read_text()
