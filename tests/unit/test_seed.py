"""Seed files: validated at start with the API's own schemas, chosen by configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app import create_app
from app.adapters.seed import SeedDataError, load_seed_file
from app.entrypoints.cli import main
from tests.conftest import SEED_FILE, WriteSeed
from tests.samples import valid_account


def seed_error(path: Path) -> str:
    with pytest.raises(SeedDataError) as caught:
        create_app({"SEED_DATA": str(path)})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"seed file {path}: ")
    return message


def test_the_bundled_seed_is_valid_and_shows_every_type() -> None:
    users = load_seed_file(SEED_FILE)
    assert set(users) >= {"user123", "user456"}
    assert [account.id for account in users["user123"]] == ["acc1", "acc2", "acc3"]
    assert {account.type for accounts in users.values() for account in accounts} == {
        "credit",
        "loan",
        "checking",
        "savings",
        "investment",
    }
    assert any(not accounts for accounts in users.values()), "a user with no accounts"


def test_a_bad_field_names_file_user_account_and_field(write_seed: WriteSeed) -> None:
    bad = valid_account("credit", id="card-7", details__apr=120)
    message = seed_error(write_seed({"u1": [valid_account("loan"), bad]}))
    assert message.endswith(
        "user 'u1', account 'card-7': field 'details.apr': "
        "Must be greater than or equal to 0 and less than or equal to 100."
    )


def test_every_bad_field_of_the_account_is_named(write_seed: WriteSeed) -> None:
    bad = valid_account("checking", currency="usd", details__routingNumber="123456789")
    message = seed_error(write_seed({"u1": [bad]}))
    assert "field 'currency'" in message
    assert "field 'details.routingNumber'" in message


def test_an_account_without_an_id_is_named_by_position(write_seed: WriteSeed) -> None:
    nameless = valid_account("credit")
    del nameless["id"]
    message = seed_error(write_seed({"u1": [valid_account("loan"), nameless]}))
    assert "user 'u1', account #2: field 'id': Missing data for required field." in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"u1": [], "u1": []}', "duplicate key 'u1'"),
        ([], "must be a JSON object mapping user ids"),
        ({"bad user": []}, "user 'bad user': not a valid user id"),
        ({"u1": {"id": "a"}}, "user 'u1': must be a list of accounts"),
        ({"u1": ["acc1"]}, "user 'u1', account #1: must be a JSON object"),
        ({"u1": [valid_account("loan"), valid_account("loan")]}, "account id 'l1' appears twice"),
        ({"u1": [valid_account("loan", type="mortgage")]}, "field 'type': Must be one of: credit"),
    ],
)
def test_malformed_seed_files(write_seed: WriteSeed, content: Any, expected: str) -> None:
    assert expected in seed_error(write_seed(content))


def test_a_missing_seed_file(tmp_path: Path) -> None:
    assert "cannot read it: No such file or directory" in seed_error(tmp_path / "absent.json")


def test_the_seed_file_comes_from_the_environment(
    write_seed: WriteSeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCOUNTS_SEED_DATA", str(write_seed({"only-me": [valid_account("loan")]})))
    client = create_app().test_client()
    assert client.get("/users/only-me/accounts").json == {
        "userId": "only-me",
        "accounts": [valid_account("loan")],
    }
    assert client.get("/users/user123/accounts").status_code == 404


def test_create_app_config_wins_over_the_environment(
    write_seed: WriteSeed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACCOUNTS_SEED_DATA", str(tmp_path / "absent.json"))
    app = create_app({"SEED_DATA": str(write_seed({"u1": []}))})
    assert app.test_client().get("/users/u1/accounts").status_code == 200


def test_cli_check_seed_accepts_a_valid_file() -> None:
    result = CliRunner().invoke(main, ["check-seed", str(SEED_FILE)])
    assert result.exit_code == 0
    assert re.fullmatch(r".*seed_data\.json: 5 users, 9 accounts, all valid\n", result.output)


def test_cli_check_seed_reports_the_first_bad_account(write_seed: WriteSeed) -> None:
    path = write_seed({"u1": [valid_account("savings", details__apy=-1)]})
    result = CliRunner().invoke(main, ["check-seed", str(path)])
    assert result.exit_code == 1
    assert "user 'u1', account 's1': field 'details.apy'" in result.output
