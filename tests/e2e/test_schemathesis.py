"""schemathesis over every operation of the live service: no 5xx, and every response as described.

It runs as schemathesis's own command line against real gunicorn (its pytest integration does not
run under pytest 9), with an admin token so that every operation is reachable.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

from app.adapters.tokens import mint_token
from harness.gunicorn import serving
from tests.unit.test_auth import SECRET

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]


def test_every_operation_conforms(tmp_path: Path) -> None:
    env = {
        "ACCOUNTS_FIXTURE_MODE": "true",
        "ACCOUNTS_AUTH": "jwt",
        "ACCOUNTS_JWT_SECRET": SECRET,
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "",
    }
    admin = mint_token("schemathesis", SECRET, admin=True, expires_in=3600)
    with serving(env) as (url, _):
        spec = requests.get(f"{url}/openapi.json", timeout=5).json()
        operations = sum(
            method != "parameters" for item in spec["paths"].values() for method in item
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{url}/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--header",
                f"Authorization: Bearer {admin}",
                "--max-examples",
                "10",
                "--seed",
                "20261124",
                "--report-dir",
                str(tmp_path),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Every described operation was tested (but the one serving the description, which
    # schemathesis leaves out), and a good number of cases ran.
    assert f"Selected: {operations - 1}/{operations - 1}" in result.stdout
    assert f"Tested: {operations - 1}" in result.stdout
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated, result.stdout[-2000:]
    assert int(generated.group(1)) == int(generated.group(2)) > 150
