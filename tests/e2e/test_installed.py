"""The service as pip installs it from a wheel, outside this repository: it serves from any
folder, with the demo's users and the packaged gunicorn settings, and says what a misspelt
setting should have been."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from harness import REPO_ROOT, scratch_environment
from harness.gunicorn import serving


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(built), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (found,) = built.glob("accounts_service-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel, and nothing of this checkout."""
    return scratch_environment(tmp_path_factory.mktemp("venv"), wheel)


def test_the_wheel_holds_the_demo_seed_the_settings_and_its_types(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "app/seed_data.json",
        "app/py.typed",
        "app/entrypoints/gunicorn_settings.py",
        "app/entrypoints/wsgi.py",
    } <= names
    assert any(".dist-info/" in name and name.endswith("/LICENSE") for name in names)
    assert not {name for name in names if name.startswith(("tests/", "bench/", "harness/"))}


def test_run_serves_the_demo_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    command = [str(installed / "accounts-service"), "run"]
    with serving({}, command, cwd=tmp_path) as (url, _):
        listed = requests.get(f"{url}/users/user123/accounts", timeout=5)
        assert listed.status_code == 200
        assert [account["id"] for account in listed.json()["accounts"]] == ["acc1", "acc2", "acc3"]
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_serve_and_the_module_work_from_an_empty_folder_too(
    installed: Path, tmp_path: Path
) -> None:
    version = subprocess.run(
        [str(installed / "python"), "-m", "app", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout == "accounts-service, version 0.1.0\n"
    checked = subprocess.run(
        [str(installed / "accounts-service"), "serve", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "the demo's users" in checked.stdout


def test_a_misspelt_setting_stops_start_up_naming_the_right_one(installed: Path) -> None:
    for command in (["run"], ["token", "alice"]):
        result = subprocess.run(
            [str(installed / "accounts-service"), *command],
            env={"ACCOUNTS_DATABSE_URL": "sqlite:///x.db", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "Error: ACCOUNTS_DATABSE_URL is no setting: did you mean ACCOUNTS_DATABASE_URL? "
            "(every setting: docs/configuration.md)"
        )
