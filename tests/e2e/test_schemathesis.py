"""schemathesis over every operation of the live service: no 5xx, every response as described,
and every request the description calls valid accepted (so every rule the server applies is
stated in it).

It runs as schemathesis's own command line against real gunicorn (its pytest integration does not
run under pytest 9), with an admin token so that every operation is reachable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from app.adapters.tokens import mint_token
from harness import REPO_ROOT
from harness.gunicorn import serving
from tests.unit.test_auth import SECRET

# Every check on; what the document cannot state, because it depends on what is stored or on
# someone else, is expected of schema-valid requests too: an If-Match that is not the account's
# current ETag (412), a merge patch whose fields are another account type's than the stored
# account's (422, so schema-valid patches are not checked for acceptance), and credentials or an
# institution the provider refuses (422 `link-refused`, on a link or a login's repair), a seed for
# /reset naming one account id twice in a user (422), a balance or net-worth series whose `from`
# is after its `to` (400), and a valuation of a day that is not past (422).
CONFIG = """
[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_schema_conformance.enabled = true
response_headers_conformance.enabled = true
positive_data_acceptance.enabled = true
positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "401", "403", "404", "409", "412", "429", "5XX"
]

[[operations]]
include-name = "PATCH /users/{userId}/accounts/{accountId}"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-name = "GET /users/{userId}/accounts/{accountId}/balances"
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "400", "401", "403", "404", "409", "429", "5XX"
]

[[operations]]
include-name = "GET /users/{userId}/net-worth"
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "400", "401", "403", "404", "409", "429", "5XX"
]

[[operations]]
include-name = "POST /users/{userId}/accounts/{accountId}/balances"
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "401", "403", "404", "409", "422", "429", "5XX"
]

[[operations]]
include-name = "POST /users/{userId}/connections"
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "401", "403", "404", "409", "412", "422", "429", "5XX"
]

[[operations]]
include-name = "POST /users/{userId}/connections/{connectionId}/login"
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "401", "403", "404", "409", "412", "422", "429", "5XX"
]

[[operations]]
include-name = "POST /reset"
checks.positive_data_acceptance.expected-statuses = [
    "2XX", "3XX", "401", "403", "404", "409", "412", "422", "429", "5XX"
]
"""


def test_every_operation_conforms(tmp_path: Path, sandbox_url: str) -> None:
    env = {
        "ACCOUNTS_PROVIDER_SANDBOX_URL": sandbox_url,
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
        (tmp_path / "schemathesis.toml").write_text(CONFIG)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(tmp_path / "schemathesis.toml"),
                "run",
                f"{url}/openapi.json",
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
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks"},
            cwd=REPO_ROOT,
        )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Every described operation was tested (but the one serving the description, which
    # schemathesis leaves out), and a good number of cases ran.
    assert f"Selected: {operations - 1}/{operations - 1}" in result.stdout
    assert f"Tested: {operations - 1}" in result.stdout
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated, result.stdout[-2000:]
    assert int(generated.group(1)) == int(generated.group(2)) > 150
