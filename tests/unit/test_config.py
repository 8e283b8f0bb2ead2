"""Settings from the environment: a variable that names no setting stops start-up."""

from __future__ import annotations

import pytest

from app.config import DEMO_SEED, ConfigurationError, settings


def test_a_misspelt_setting_names_the_nearest_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNTS_DATABSE_URL", "sqlite:///x.db")
    with pytest.raises(ConfigurationError) as refused:
        settings()
    assert str(refused.value) == (
        "ACCOUNTS_DATABSE_URL is no setting: did you mean ACCOUNTS_DATABASE_URL? "
        "(every setting: docs/configuration.md)"
    )


def test_a_variable_like_no_setting_at_all_says_where_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCOUNTS_XYZZY", "1")
    with pytest.raises(ConfigurationError, match=r"^ACCOUNTS_XYZZY is no setting: \(every"):
        settings()


def test_the_test_suites_own_variables_are_no_settings_and_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCOUNTS_REQUIRE_SERVICES", "1")
    monkeypatch.setenv("ACCOUNTS_TEST_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("ACCOUNTS_CACHE_TTL_SECONDS", "60")
    found = settings()
    assert found["CACHE_TTL_SECONDS"] == 60
    assert "REQUIRE_SERVICES" not in found


def test_the_default_seed_is_the_packaged_demo() -> None:
    assert settings()["SEED_DATA"] == str(DEMO_SEED)
    assert DEMO_SEED.parent.name == "app"
    assert DEMO_SEED.is_file()
