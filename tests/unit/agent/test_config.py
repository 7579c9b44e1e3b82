"""The config file: defaults, validation messages, comments kept, JARVIS_* overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from jarvis_agent.capture.rules import default_rules
from jarvis_agent.config import ConfigError, ConfigPatch, ConfigStore


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    return ConfigStore(tmp_path / "config.toml", environ={})


def test_missing_file_gives_documented_defaults(store: ConfigStore) -> None:
    """Without a file the agent captures every 15 s, JPEG quality 80, idle after 5 min."""
    config = store.load()
    assert config.capture.interval_seconds == 15
    assert config.capture.quality == 80
    assert config.capture.image_format == "jpeg"
    assert config.privacy.idle_threshold_seconds == 300
    assert config.outbox.max_bytes == 2 * 1024**3
    assert config.ui.pause_hotkey == "<ctrl>+<alt>+p"
    assert config.privacy.rules == default_rules()
    assert not store.path.exists()


def test_set_value_writes_only_what_changed(store: ConfigStore) -> None:
    """`config set` stores the one key in the file; the shipped rules stay out of it."""
    config = store.set_value("capture.interval_seconds", "30")
    assert config.capture.interval_seconds == 30
    text = store.path.read_text()
    assert "interval_seconds = 30" in text
    assert "rules" not in text
    assert store.load().capture.interval_seconds == 30


def test_set_value_keeps_the_users_comments(store: ConfigStore) -> None:
    """Comments and other keys written by hand survive a `config set`."""
    store.path.write_text(
        "# my settings\n[capture]\n# slower on battery\ninterval_seconds = 20  # was 15\n"
    )
    store.set_value("capture.quality", "70")
    text = store.path.read_text()
    assert "# my settings" in text
    assert "# slower on battery" in text
    assert "interval_seconds = 20  # was 15" in text
    assert "quality = 70" in text


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("capture.interval_seconds", "0", ["capture.interval_seconds", '"0"', "from 1 to 3600"]),
        ("capture.interval_seconds", "often", ["capture.interval_seconds", '"often"', "a number"]),
        ("capture.max_gap_seconds", "0", ["capture.max_gap_seconds", '"0"', "above 0"]),
        ("capture.image_format", "gif", ["capture.image_format", '"gif"', "'jpeg', 'webp'"]),
        ("server.url", "ftp://host", ["server.url", "ftp://host", "http:// or https://"]),
        ("outbox.max_bytes", "lots", ["outbox.max_bytes", '"lots"', "2GiB"]),
        ("ui.pause_hotkey", "p", ["ui.pause_hotkey", '"p"', "<ctrl>+<alt>+p"]),
        ("logging.level", "loud", ["logging.level", "DEBUG", "ERROR"]),
    ],
)
def test_bad_values_are_refused_naming_key_value_and_what_is_allowed(
    store: ConfigStore, key: str, value: str, expected: list[str]
) -> None:
    """A bad value is refused, the message names the key, the value and what is allowed."""
    with pytest.raises(ConfigError) as caught:
        store.set_value(key, value)
    for part in expected:
        assert part in str(caught.value)
    assert not store.path.exists()


def test_unknown_key_lists_the_known_ones(store: ConfigStore) -> None:
    """A typo in a key is refused with the keys that exist in that section."""
    with pytest.raises(ConfigError, match=r"unknown key capture\.intervall.*interval_seconds"):
        store.set_value("capture.intervall", "30")


def test_invalid_file_names_file_key_value(store: ConfigStore) -> None:
    """A hand-edited file with a bad value and an unknown key: both reported, with the file."""
    store.path.write_text("[capture]\ninterval_seconds = -5\nfrobnicate = 1\n")
    with pytest.raises(ConfigError) as caught:
        store.load()
    message = str(caught.value)
    assert str(store.path) in message
    assert "capture.interval_seconds = -5" in message
    assert "unknown key capture.frobnicate" in message


def test_broken_toml_names_line_and_fix(store: ConfigStore) -> None:
    """A syntax error says where it is and how to fix it."""
    store.path.write_text("[capture\ninterval_seconds = 3\n")
    with pytest.raises(ConfigError, match=r"not valid TOML \(line 1.*jarvis config edit"):
        store.load()


def test_environment_overrides_the_file_without_being_saved(tmp_path: Path) -> None:
    """JARVIS_CAPTURE__INTERVAL_SECONDS wins over the file, and a save does not persist it."""
    path = tmp_path / "config.toml"
    path.write_text("[capture]\ninterval_seconds = 20\n")
    env = {
        "JARVIS_CAPTURE__INTERVAL_SECONDS": "45",
        "JARVIS_HOME": "/somewhere",
        "JARVIS_DATABASE_URL": "sqlite://",
        "JARVIS_SERVER_TOKEN_PEPPER": "x",
    }
    store = ConfigStore(path, environ=env)
    config = store.load()
    assert config.capture.interval_seconds == 45
    store.update(
        ConfigPatch.between(
            config,
            config.model_copy(update={"ui": config.ui.model_copy(update={"notifications": False})}),
        )
    )
    text = path.read_text()
    assert "interval_seconds = 20" in text
    assert "notifications = false" in text


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    """An invalid JARVIS_* value is reported with the variable's name."""
    store = ConfigStore(tmp_path / "c.toml", environ={"JARVIS_CAPTURE__QUALITY": "200"})
    with pytest.raises(ConfigError, match=r"JARVIS_CAPTURE__QUALITY.*capture\.quality = \"200\""):
        store.load()


def test_sizes_and_none(store: ConfigStore) -> None:
    """Sizes read with units; `none` unsets an optional key."""
    assert store.set_value("outbox.max_bytes", "500MB").outbox.max_bytes == 500_000_000
    assert store.set_value("outbox.max_age_days", "7").outbox.max_age_days == 7
    assert store.set_value("outbox.max_age_days", "none").outbox.max_age_days is None
    assert "max_age_days" not in store.path.read_text()


def test_active_hours_and_monitors_round_trip(store: ConfigStore) -> None:
    """Structured values (JSON on the command line) are stored as TOML and read back."""
    store.set_value("privacy.active_hours", '{"start": "09:00", "end": "17:30", "days": [0, 1]}')
    store.set_value("capture.monitors", "[0, 2]")
    config = ConfigStore(store.path, environ={}).load()
    assert config.privacy.active_hours is not None
    assert config.privacy.active_hours.describe() == "09:00-17:30 on Mon,Tue"
    assert config.capture.monitors == [0, 2]


def test_server_url_is_normalised(store: ConfigStore) -> None:
    """A trailing slash is dropped; credentials in the URL are refused."""
    assert store.set_value("server.url", "https://jarvis.example.com/").server.url == (
        "https://jarvis.example.com"
    )
    with pytest.raises(ConfigError, match="must not carry a user name or password"):
        store.set_value("server.url", "https://me:secret@jarvis.example.com")


def test_write_text_refuses_invalid_and_keeps_file(store: ConfigStore) -> None:
    """Replacing the file with invalid text fails and leaves the old file as it was."""
    store.set_value("capture.quality", "60")
    before = store.path.read_text()
    with pytest.raises(ConfigError, match=r"capture\.quality"):
        store.write_text("[capture]\nquality = 0\n")
    assert store.path.read_text() == before


def test_saved_file_is_private(store: ConfigStore) -> None:
    """The config file is readable by the user only."""
    store.set_value("capture.quality", "70")
    assert store.path.stat().st_mode & 0o777 == 0o600


def test_private_browsers_setting_round_trips_and_adds_its_rules(store: ConfigStore) -> None:
    """`config set privacy.private_browsers` and `allowed_browser_titles` are stored, and the
    capture's rules gain one "private unless allowed" rule per browser after the user's own."""
    store.set_value("privacy.private_browsers", '["Chromium", "Brave"]')
    store.set_value("privacy.allowed_browser_titles", '["*Jira*"]')
    config = ConfigStore(store.path, environ={}).load()
    rules = config.privacy.effective_rules()
    assert rules[: len(config.privacy.rules)] == config.privacy.rules
    added = rules[len(config.privacy.rules) :]
    assert [rule.name for rule in added] == [
        "Private unless allowed: Chromium",
        "Private unless allowed: Brave",
    ]
    assert added[0].matches("Chromium", "Bank - Chromium")
    assert not added[0].matches("Chromium", "Board - Jira - Chromium")


def test_unknown_private_browser_is_refused_by_name(store: ConfigStore) -> None:
    """An unknown browser is refused with the setting and the known browsers named."""
    with pytest.raises(ConfigError, match="unknown browser 'Chromeum'; choose among") as caught:
        store.set_value("privacy.private_browsers", '["Chromeum"]')
    assert "private_browsers" in str(caught.value)
