"""What the benchmark scripts share: a free port, and one wrk run read into figures.

wrk is installed from Debian's packages the first time it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent


@dataclass
class Result:
    rps: float
    p50: str
    p99: str
    #: Non-2xx answers plus socket errors.
    errors: int
    #: wrk's whole report.
    output: str

    def __str__(self) -> str:
        return f"{self.rps:,.0f} req/s, p50 {self.p50}, p99 {self.p99}, {self.errors} errors"


def run(
    url: str,
    connections: int,
    duration: int,
    script: str | None = None,
    env: Mapping[str, str] | None = None,
    headers: Sequence[str] = (),
) -> Result:
    """`wrk -t2` against `url`, with a Lua script of this folder and its environment."""
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(SCRIPTS / script)]
    output = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout

    def grab(pattern: str, default: str = "?") -> str:
        match = re.search(pattern, output)
        return match.group(1) if match else default

    return Result(
        rps=float(grab(r"Requests/sec:\s+([\d.]+)", "0")),
        p50=grab(r"(?m)^\s+50%\s+(\S+)"),
        p99=grab(r"(?m)^\s+99%\s+(\S+)"),
        errors=int(grab(r"Non-2xx or 3xx responses: (\d+)", "0"))
        + sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)),
        output=output,
    )
