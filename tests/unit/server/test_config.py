"""Settings: where the embedded defaults live, and how bad values are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from jarvis_server.core.config import Settings, SettingsError, load_settings
from jarvis_server.core.db import DatabaseURLError, parse_database_url


def test_jarvis_home_relocates_database_and_storage(
    jarvis_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With JARVIS_HOME set, the SQLite file and storage live under $JARVIS_HOME/server."""
    monkeypatch.chdir(jarvis_home)  # no stray .env
    settings = Settings()
    assert settings.effective_database_url.endswith(str(jarvis_home / "server" / "jarvis.db"))
    assert settings.effective_storage_dir == jarvis_home / "server" / "storage"


def test_explicit_settings_and_unknown_agent_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JARVIS_* server keys are read; the agent's JARVIS_* keys are ignored."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JARVIS_STORAGE_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("JARVIS_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("JARVIS_CAPTURE_INTERVAL", "not-ours")
    settings = load_settings()
    assert settings.effective_storage_dir == tmp_path / "s"
    assert settings.max_upload_bytes == 1234


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .env file in the working directory provides settings."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("JARVIS_RATE_LIMIT_BURST=7\n")
    assert load_settings().rate_limit_burst == 7


def test_bad_value_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that does not validate raises SettingsError naming the environment variable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JARVIS_RATE_LIMIT_PER_MINUTE", "-5")
    with pytest.raises(SettingsError, match="JARVIS_RATE_LIMIT_PER_MINUTE"):
        load_settings()


@pytest.mark.parametrize(
    "variable",
    [
        "JARVIS_EVENTS_TOKEN_RECHECK_SECONDS",
        "JARVIS_REQUEST_HEADER_TIMEOUT_SECONDS",
        "JARVIS_REQUEST_BODY_TIMEOUT_SECONDS",
        "JARVIS_RESPONSE_SEND_TIMEOUT_SECONDS",
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "100000", "soon"])
def test_timeouts_must_be_positive_and_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A timeout of zero, below zero, beyond its bound or not a number stops the server with
    the variable named: none of them may switch a deadline off."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_database_urls_map_to_async_drivers(raw: str, driver: str) -> None:
    """Plain scheme names are accepted and run on the async drivers."""
    assert parse_database_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["nonsense", "mysql://h/db", "sqlite://", "sqlite:///:memory:"])
def test_unusable_database_urls_are_refused(raw: str) -> None:
    """Malformed, unsupported and in-memory URLs are refused with a reason."""
    with pytest.raises(DatabaseURLError):
        parse_database_url(raw)
