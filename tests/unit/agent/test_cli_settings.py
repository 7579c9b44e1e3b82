"""`jarvis config ...` and `jarvis exclusions ...` as a user types them (no agent running)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from jarvis_agent.cli import _register, cli
from jarvis_agent.config import ConfigStore


@pytest.fixture(scope="module", autouse=True)
def _commands() -> None:
    if "config" not in cli.commands:
        _register()


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_config_show_lists_effective_settings_and_overrides(monkeypatch) -> None:
    """`config show` prints every section, says where the file is and which keys come from env."""
    monkeypatch.setenv("JARVIS_CAPTURE__QUALITY", "55")
    result = run("config", "show")
    assert result.exit_code == 0
    assert "(not created yet: defaults)" in result.output
    assert "[capture]" in result.output
    assert "quality = 55" in result.output
    assert "capture.quality comes from JARVIS_CAPTURE__QUALITY" in result.output
    assert "exclusion rules; see `jarvis exclusions list`" in result.output
    as_json = json.loads(run("config", "show", "--json").output)
    assert as_json["capture"]["quality"] == 55


def test_config_set_and_unset() -> None:
    """`config set` stores and echoes the value; with no agent it says when it will apply."""
    result = run("config", "set", "capture.interval_seconds", "30")
    assert result.exit_code == 0
    assert result.output.startswith("capture.interval_seconds = 30.0 (saved to ")
    assert "The agent is not running; it will use this when it starts." in result.output
    assert ConfigStore().load().capture.interval_seconds == 30
    result = run("config", "unset", "capture.interval_seconds")
    assert result.exit_code == 0
    assert ConfigStore().load().capture.interval_seconds == 15


def test_config_set_refuses_bad_values_by_name() -> None:
    """A bad value exits 1 with the key, the value and what is allowed; nothing is written."""
    result = run("config", "set", "capture.quality", "101")
    assert result.exit_code == 1
    assert 'capture.quality = "101" is too large; use a whole number from 1 to 100' in result.output
    assert not ConfigStore().path.exists()


def _editor(tmp_path, monkeypatch, text: str) -> None:
    """$EDITOR is a real program that replaces the file's text, as a user's edit would."""
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\ncat > \"$1\" <<'EOF'\n{text}EOF\n")
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("VISUAL", raising=False)


def test_config_edit_keeps_the_file_when_the_edit_is_invalid(tmp_path, monkeypatch) -> None:
    """An invalid edit is explained and, when the user gives up, the file is left unchanged."""
    run("config", "set", "capture.quality", "70")
    before = ConfigStore().path.read_text()
    _editor(tmp_path, monkeypatch, "[capture]\nquality = 0\n")
    result = run("config", "edit", input="n\n")
    assert result.exit_code == 1
    assert "capture.quality = 0 is too small" in result.output
    assert "the config file was left unchanged" in result.output
    assert ConfigStore().path.read_text() == before
    _editor(tmp_path, monkeypatch, "# tuned by hand\n[capture]\nquality = 65\n")
    result = run("config", "edit")
    assert result.exit_code == 0
    assert ConfigStore().load().capture.quality == 65
    assert ConfigStore().path.read_text().startswith("# tuned by hand")


def test_exclusions_add_list_test_remove() -> None:
    """A user adds a banking rule, sees it listed, tests a window against it, and removes it."""
    result = run("exclusions", "add", "Bank", "--title", "*My Bank*")
    assert result.exit_code == 0, result.output
    assert "Added rule 'Bank' (redact)." in result.output
    listing = run("exclusions", "list").output
    assert "[redact] Bank: title glob '*My Bank*'" in listing
    assert "Password manager: KeePass / KeePassXC" in listing

    result = run("exclusions", "test", "firefox", "Accounts - My Bank - Mozilla Firefox")
    assert "Rule 'Bank' (redact) matches: blacked out wherever it is visible." in result.output
    result = run("exclusions", "test", "KeePassXC", "Passwords.kdbx - KeePassXC")
    assert "(skip) matches: no capture while it is focused" in result.output
    result = run("exclusions", "test", "code", "main.py - Visual Studio Code")
    assert "No rule matches" in result.output

    result = run("exclusions", "remove", "bank")
    assert result.exit_code == 0
    # It says which rule went and what it matched, so a wrong name or number is noticed.
    assert result.output.startswith("Removed rule 'Bank' [redact]: title glob '*My Bank*'.\n")
    assert "Bank" not in run("exclusions", "list").output


def test_exclusions_add_refuses_bad_rules() -> None:
    """A rule with no pattern, a broken regex or a duplicate name is refused with the reason."""
    result = run("exclusions", "add", "Nothing")
    assert result.exit_code == 1
    assert "neither an app nor a title pattern" in result.output
    result = run("exclusions", "add", "Broken", "--title", "([", "--regex")
    assert result.exit_code == 1
    assert "not a valid regular expression" in result.output
    run("exclusions", "add", "Bank", "--title", "*Bank*")
    result = run("exclusions", "add", "Bank", "--title", "*Bank*")
    assert result.exit_code == 1
    assert "exists already" in result.output
    result = run("exclusions", "remove", "Nope")
    assert result.exit_code == 1
    assert "no rule is named or numbered 'Nope'" in result.output


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "capture.interval_seconds",
            "abc",
            'capture.interval_seconds = "abc" is not a number; use a number from 1 to 3600 '
            "(Seconds between captures)",
        ),
        (
            "capture.interval_seconds",
            "-5",
            'capture.interval_seconds = "-5" is too small; use a number from 1 to 3600',
        ),
        ("capture.quality", "1.5", 'capture.quality = "1.5" is not a whole number'),
        ("privacy.omit_titles", "maybe", 'privacy.omit_titles = "maybe" is neither true nor false'),
        (
            "outbox.max_bytes",
            "1KiB",
            "outbox.max_bytes = 1024 is too small; use a size from 16.0 MiB to 16.0 TiB",
        ),
        ("outbox.max_bytes", "lots", 'outbox.max_bytes = "lots" is not a size'),
    ],
)
def test_config_set_explains_bad_values_in_our_words(key: str, value: str, message: str) -> None:
    """A bad value, negative ones included, gets our words naming the key, the value and what is
    allowed: not click's "No such option '-5'" nor pydantic's "Input should be ..."."""
    result = run("config", "set", key, value)
    assert result.exit_code == 1
    assert f"Error: config set: {message}" in result.output
    assert "Input should" not in result.output
    assert "No such option" not in result.output
    assert not ConfigStore().path.exists()


def test_config_show_gives_sizes_in_binary_units() -> None:
    """Byte sizes in `config show` are followed by the size in words, in KiB/MiB/GiB."""
    run("config", "set", "outbox.max_bytes", "500MiB")
    output = run("config", "show").output
    assert "max_bytes = 524288000  # 500.0 MiB" in output
    assert "max_bytes = 5242880  # 5.0 MiB" in output
