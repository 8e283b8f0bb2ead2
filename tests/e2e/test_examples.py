"""Every shell example of the README and of the documentation site, run as written, page by page,
each page after the README's serve command, the way tests/e2e/test_walkthrough.py runs the
walkthrough's (whose own commands are its test's).

A `console` block's `$ ` lines are commands (a line ending in `\\` goes on), and the lines after
each, its output. The commands of a page run in order, each in a bash that sees what the ones
before it exported and set; a command ending in `&` runs in the background, its output read as it
comes. (The `sh` blocks of the README and of the site's home page are the two set-up commands: the
serve one is what every page runs after, and the test one is this suite.) The outputs must be what
the page shows, but for what differs at every run: generated ids, times, days in JSON (the
sandbox's statements fall due days from today) and the port `--port 0` picked, each of which is
then what later commands of the page use in its place. The ports a page names (8000, 8001, 8080,
8081, 8100) are free ones here, and the PostgreSQL database a page names a fresh one. A read that
does not answer as shown yet (a server still starting, a sync still running) is asked again for a
while, as a person would.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import REPO_ROOT, free_port
from tests.integration.test_code_quality import readme_command

PAGES = [
    page
    for page in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    if page.name != "walkthrough.md" and "```console" in page.read_text()
]
#: What the README says to run to serve: every page's examples run after it.
#: What the README's command to serve ends with, once installed.
SERVE = ".venv/bin/accounts-service run"
#: Parts of an output that differ at every run, each of which later commands then use.
VARYING = re.compile(
    r"(?:conn|job|acc|user)-[0-9a-f]{16}"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00"
    # A day in JSON: the sandbox's statements are due days from today.
    r"|\d{4}-\d\d-\d\d(?=\"|$)"
    r"|127\.0\.0\.1:\d{5}"
)
RETRY_SECONDS = 20
#: The ports the pages name, each a free one here.
PORTS = ("8000", "8001", "8080", "8081", "8100")
#: The database the pages name, a throwaway one here.
DATABASE = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Example:
    command: str
    output: list[str] = field(default_factory=list)


def examples(page: Path) -> list[Example]:
    found: list[Example] = []
    for block in re.findall(r"^```console\n(.*?)^```", page.read_text(), re.S | re.M):
        lines = iter(block.splitlines())
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\"):
                    command = command[:-1] + " " + next(lines).strip()
                found.append(Example(command))
            elif found:
                found[-1].output.append(line)
    for example in found:  # a blank line only sets commands apart
        while example.output and not example.output[-1]:
            example.output.pop()
    return found


class Shell:
    """A page's commands, one bash each, sharing what they export (and set) through a file;
    what runs in the background keeps a process group of its own, ended with the page."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self._env = env
        self._folder = folder
        self._state = folder / "state.sh"
        self._state.write_text("")
        self._groups: list[int] = []

    def run(self, command: str) -> tuple[int, list[str]]:
        background = command.endswith("&")
        log = self._folder / f"background-{len(self._groups)}.log"
        if background:
            command = f"{command[:-1].strip()} > {log} 2> {log}.stderr &"
        script = f"source {self._state}\n{command}\nstatus=$?\n"
        script += f"declare -p | grep -v '^declare -[a-zA-Z]*r' > {self._state}.new\n"
        script += f"mv {self._state}.new {self._state}\nexit $status\n"
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=REPO_ROOT,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output, _ = process.communicate(timeout=120)
        if background:
            self._groups.append(process.pid)
            time.sleep(0.3)
            return process.returncode, log.read_text().splitlines()
        return process.returncode, output.splitlines()

    def background_output(self) -> list[str]:
        log = self._folder / f"background-{len(self._groups) - 1}.log"
        return log.read_text().splitlines()

    def end(self) -> None:
        for group in self._groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)


def matches(shown: list[str], got: list[str], same: dict[str, str]) -> dict[str, str] | None:
    """The page's output against what ran, varying parts aside: the new meanings of the varying
    parts when it matches (`same` holds those learnt already), else None. A shown header block
    (`curl -i`) need only appear in order among the headers that came."""
    learnt = dict(same)
    remaining = iter(got)
    for line in shown:
        pattern, varying = "", []
        for part in re.split(f"({VARYING.pattern})", line):
            if part in learnt:
                pattern += re.escape(learnt[part])
            elif VARYING.fullmatch(part):
                pattern += "(.+?)"
                varying.append(part)
            else:
                pattern += re.escape(part)
        for candidate in remaining:
            found = re.fullmatch(pattern, candidate)
            if found:
                for part, value in zip(varying, found.groups(), strict=True):
                    learnt.setdefault(part, value)
                break
            if not re.fullmatch(r"[\w-]+: .*", candidate):  # only headers may be passed over
                return None
        else:
            return None
    return learnt


@pytest.fixture
def ports() -> dict[str, str]:
    return {name: str(free_port()) for name in PORTS}


def with_ports(text: str, ports: dict[str, str]) -> str:
    return re.sub(
        rf"(localhost:|127\.0\.0\.1:|PORT=|--port )({'|'.join(PORTS)})\b",
        lambda found: found.group(1) + ports[found.group(2)],
        text,
    )


def test_the_readme_serves_with_this_command() -> None:
    assert readme_command("To serve").endswith(f" && {SERVE}")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_example_runs_as_written(
    page: Path, ports: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shown = examples(page)
    database = (
        request.getfixturevalue("fresh_postgres_url") if DATABASE in page.read_text() else None
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACCOUNTS_")}
    server = subprocess.Popen(
        ["bash", "-c", SERVE],
        cwd=REPO_ROOT,
        env={**env, "PORT": ports["8000"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    shell = Shell(env, tmp_path)
    same: dict[str, str] = {}
    try:
        for example in shown:
            command = with_ports(example.command, ports)
            if database:
                command = command.replace(DATABASE, database)
            for part, value in same.items():
                command = command.replace(part, value)
            expected = [with_ports(line, ports) for line in example.output]
            deadline = time.monotonic() + RETRY_SECONDS
            while True:
                status, got = shell.run(command)
                if command.endswith("&") and expected:
                    while len(got) < len(expected) and time.monotonic() < deadline:
                        time.sleep(0.1)
                        got = shell.background_output()
                learnt = matches(expected, got, same) if status == 0 else None
                if learnt is not None:
                    same = learnt
                    break
                writes = re.search(r"-X (POST|PUT|PATCH|DELETE)", command) and status != 7
                if writes or command.endswith("&") or time.monotonic() > deadline:
                    raise AssertionError(
                        f"{page.name}: `{command}` exited {status} and printed:\n"
                        + "\n".join(got)
                        + "\n\nwhere the page shows:\n"
                        + "\n".join(expected)
                    )
                time.sleep(0.3)
    finally:
        shell.end()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
