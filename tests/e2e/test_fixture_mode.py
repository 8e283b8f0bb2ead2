"""Fixture mode: /export and /reset, the `serve` command, and the pytest plugin for others."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from pytest_accounts_service import AccountsService, start

from app import create_app
from app.adapters.exact_json import loads_exact
from harness import REPO_ROOT, scratch_environment
from tests.conftest import SEED_FILE, WriteSeed
from tests.samples import valid_account


def test_fixture_routes_exist_only_in_fixture_mode(client: FlaskClient) -> None:
    assert client.get("/export").status_code == 404
    assert client.post("/reset").status_code == 404


def test_export_writes_the_seed_file_format(fixture_client: FlaskClient) -> None:
    exported = fixture_client.get("/export")
    assert exported.status_code == 200
    assert loads_exact(exported.data) == loads_exact(SEED_FILE.read_bytes())


def test_a_state_built_through_the_api_can_be_saved_and_replayed(
    fixture_client: FlaskClient, write_seed: WriteSeed
) -> None:
    fixture_client.post("/users", json={"id": "built"})
    fixture_client.post("/users/built/accounts", json=valid_account("investment"))
    fixture_client.patch("/users/user123/accounts/acc1", json={"balance": 0.01})
    fixture_client.delete("/users/user456")
    saved = fixture_client.get("/export").data

    replayed = create_app({"SEED_DATA": str(write_seed(saved.decode())), "FIXTURE_MODE": True})
    assert replayed.test_client().get("/export").data == saved


def test_reset_replaces_everything_with_the_body(fixture_client: FlaskClient) -> None:
    response = fixture_client.post("/reset", json={"only": [valid_account("checking")]})
    assert response.status_code == 204
    assert fixture_client.get("/users/user123").status_code == 404
    accounts = loads_exact(fixture_client.get("/users/only/accounts").data)["accounts"]
    assert [account["id"] for account in accounts] == ["k1"]


def test_reset_without_a_body_goes_back_to_the_seed(fixture_client: FlaskClient) -> None:
    seeded = fixture_client.get("/export").data
    fixture_client.post("/reset", json={})
    assert fixture_client.get("/export").data == b"{}"
    assert fixture_client.post("/reset").status_code == 204
    assert fixture_client.get("/export").data == seeded


def test_an_invalid_reset_is_a_422_that_changes_nothing(fixture_client: FlaskClient) -> None:
    before = fixture_client.get("/export").data
    response = fixture_client.post("/reset", json={"u1": [valid_account("loan", currency="usd")]})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    detail = loads_exact(response.data)["detail"]
    assert detail.startswith("reset body: user 'u1', account 'l1': field 'currency'")
    assert fixture_client.get("/export").data == before


def test_reset_takes_bodies_larger_than_an_account(fixture_client: FlaskClient) -> None:
    users = {f"u{n}": [valid_account("loan")] for n in range(1000)}  # about 200 KB
    assert fixture_client.post("/reset", json=users).status_code == 204


#: The service's command, as this environment installed it.
SERVICE_COMMAND = str(Path(sys.executable).parent / "accounts-service")
#: The plugin, a distribution of its own.
PLUGIN = REPO_ROOT / "plugins" / "pytest-accounts-service"


@pytest.fixture
def served(write_seed: WriteSeed) -> Iterator[AccountsService]:
    server = start(write_seed({"alice": [valid_account("credit")]}), SERVICE_COMMAND)
    yield server
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0


def test_serve_prints_its_url_and_serves_the_seed(served: AccountsService) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    response = requests.get(f"{served.url}/users/alice/accounts", timeout=5)
    assert response.json()["accounts"][0]["id"] == "c1"

    served.reset({"bob": []})
    assert served.export() == {"bob": []}
    assert requests.get(f"{served.url}/users/alice", timeout=5).status_code == 404


def test_the_plugins_server_keeps_answering_however_much_it_logs(served: AccountsService) -> None:
    # A line of log per request: far more than a pipe holds (64 KiB) if nobody read it.
    with requests.Session() as session:
        for _ in range(1000):
            response = session.get(f"{served.url}/users/alice/accounts", timeout=5)
            assert response.status_code == 200


def test_serve_writes_only_its_url_to_standard_output_and_logs_to_standard_error(
    write_seed: WriteSeed, tmp_path: Path
) -> None:
    seed = write_seed({"alice": []})
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.entrypoints.cli",
                "serve",
                "--seed",
                str(seed),
                "--port",
                "0",
            ],
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        while not out.read_text().endswith("\n"):
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "no URL on standard output"
            time.sleep(0.05)
        url = out.read_text().strip()
        for path in ["/users/alice/accounts", "/users/nobody/accounts"]:
            requests.get(f"{url}{path}", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    assert out.read_text() == f"{url}\n"
    logged = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert [(line["route"], line["status"]) for line in logged if line["message"] == "request"] == [
        ("/users/<id:user_id>/accounts", 200),
        ("/users/<id:user_id>/accounts", 404),
    ]


def test_serve_with_an_invalid_seed_says_why_and_exits_1(write_seed: WriteSeed) -> None:
    seed = write_seed({"alice": [valid_account("credit", currency="usd")]})
    result = subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", "serve", "--seed", str(seed), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: seed file {seed}: user 'alice', account 'c1': field 'currency': "
        "Not an ISO 4217 currency code (three capital letters, e.g. USD).\n"
    )


PLUGIN_USER_TESTS = """
import json
import urllib.request

import pytest


@pytest.fixture
def accounts_service_data():
    return {"alice": [%(account)s]}


def get(url):
    with urllib.request.urlopen(url) as response:
        return json.load(response)


def test_sees_its_own_data(accounts_service):
    accounts = get(accounts_service.url + "/users/alice/accounts")["accounts"]
    assert [account["id"] for account in accounts] == ["c1"]


def test_writes_something(accounts_service):
    request = urllib.request.Request(
        accounts_service.url + "/users", data=b'{"id": "mallory"}', method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request)
    assert "mallory" in accounts_service.export()


def test_starts_clean_again(accounts_service):
    assert sorted(accounts_service.export()) == ["alice"]


@pytest.mark.parametrize("accounts_service_data", [{"carol": []}])
def test_data_can_vary_per_test(accounts_service):
    assert accounts_service.export() == {"carol": []}
"""


@pytest.fixture
def plugin_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with the plugin (loaded as its entry point would) and the service on PATH."""
    monkeypatch.setenv("PYTHONPATH", str(PLUGIN))
    monkeypatch.setenv("PATH", f"{Path(SERVICE_COMMAND).parent}:{os.environ['PATH']}")
    return pytester


def run_with_plugin(project: pytest.Pytester, *arguments: str) -> pytest.RunResult:
    return project.runpytest_subprocess("-p", "pytest_accounts_service", *arguments)


def test_pytest_plugin_gives_other_projects_a_clean_live_server(
    plugin_project: pytest.Pytester,
) -> None:
    plugin_project.makepyfile(PLUGIN_USER_TESTS % {"account": repr(valid_account("credit"))})
    run_with_plugin(plugin_project, "-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_pytest_plugin_accepts_a_seed_file(plugin_project: pytest.Pytester, tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"dave": [valid_account("savings")]}))
    plugin_project.makepyfile(
        f"""
        import pathlib, pytest

        @pytest.fixture
        def accounts_service_data():
            return pathlib.Path({str(seed)!r})

        def test_served(accounts_service):
            assert list(accounts_service.export()) == ["dave"]
        """
    )
    run_with_plugin(plugin_project).assert_outcomes(passed=1)


@pytest.mark.parametrize("page", [PLUGIN / "README.md", REPO_ROOT / "docs" / "operating.md"])
def test_the_documented_plugin_example_runs(plugin_project: pytest.Pytester, page: Path) -> None:
    example = page.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    plugin_project.makepyfile(example)
    run_with_plugin(plugin_project).assert_outcomes(passed=1)


def test_the_plugin_says_how_to_install_the_service_when_it_finds_none(
    plugin_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    plugin_project.makepyfile("def test_needs_it(accounts_service):\n    pass\n")
    result = run_with_plugin(plugin_project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'accounts-service' is no command found on PATH: install*"])
    assert "Traceback" not in result.stdout.str()


def test_the_plugin_starts_the_command_it_is_told_about(
    plugin_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    plugin_project.makeini(f"[pytest]\naccounts_service_command = {SERVICE_COMMAND}\n")
    plugin_project.makepyfile(
        "def test_served(accounts_service):\n    assert accounts_service.export() == {}\n"
    )
    run_with_plugin(plugin_project).assert_outcomes(passed=1)
    command = f"--accounts-service-command={sys.executable} -m app"
    run_with_plugin(plugin_project, command).assert_outcomes(passed=1)


THEIR_APP_TESTS = """
import app
import pytest

from app.views import hello


@pytest.fixture
def accounts_service_data():
    return {"alice": []}


def test_their_own_app_is_the_one_imported():
    assert hello() == "theirs"


def test_the_plugin_serves_beside_it(accounts_service):
    assert accounts_service.export() == {"alice": []}
    assert "site-packages" in app.__file__
"""

THEIR_PROJECT = """
[build-system]
requires = ["setuptools>=69,<90"]
build-backend = "setuptools.build_meta"

[project]
name = "theirs"
version = "1.0"

[tool.setuptools]
packages = ["app"]
"""


def test_the_plugin_works_beside_a_project_installed_with_its_own_app_package(
    tmp_path: Path,
) -> None:
    """As tox does it: the project (whose package is `app`, as most Flask projects' is) and the
    plugin installed, not editable, into a fresh environment; the service in another one."""
    theirs = tmp_path / "theirs"
    (theirs / "app").mkdir(parents=True)
    (theirs / "app" / "__init__.py").write_text("")
    (theirs / "app" / "views.py").write_text("def hello():\n    return 'theirs'\n")
    (theirs / "pyproject.toml").write_text(THEIR_PROJECT)
    (theirs / "tests").mkdir()
    (theirs / "tests" / "test_theirs.py").write_text(THEIR_APP_TESTS)
    # A copy: building leaves metadata beside the sources, which other tests would take for an
    # installed plugin.
    plugin = shutil.copytree(PLUGIN, tmp_path / "plugin")
    python = scratch_environment(tmp_path / "venv", plugin, theirs) / "python"
    # -P: not the current directory's `app` but the installed one, as tox's `pytest` finds it.
    result = subprocess.run(
        [
            str(python),
            "-P",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests",
            f"--accounts-service-command={SERVICE_COMMAND}",
        ],
        cwd=theirs,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
