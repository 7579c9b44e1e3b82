"""The XDG autostart entry: what a Linux desktop reads at login."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from jarvis_agent.autostart import (
    AutostartError,
    XdgAutostart,
    autostart_for_platform,
    desktop_entry,
    exec_quote,
    exec_unquote,
)


def _parse(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser["Desktop Entry"]


def test_entry_runs_the_command_and_is_enabled() -> None:
    """The entry is an Application whose Exec is the command, enabled for GNOME and not hidden."""
    entry = _parse(desktop_entry(["/opt/jarvis/jarvis"]))
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "/opt/jarvis/jarvis"
    assert entry["Hidden"] == "false"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Icon"] == "jarvis"
    assert entry["Terminal"] == "false"


def test_disabled_entry_is_hidden() -> None:
    """A disabled entry says Hidden=true and X-GNOME-Autostart-enabled=false."""
    entry = _parse(desktop_entry(["jarvis"], enabled=False))
    assert entry["Hidden"] == "true"
    assert entry["X-GNOME-Autostart-enabled"] == "false"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/usr/bin/jarvis"], "/usr/bin/jarvis"),
        (["/home/a b/jarvis", "run", "--headless"], '"/home/a b/jarvis" run --headless'),
        (["/x/j$rvis"], '"/x/j\\\\$rvis"'),
        (["/x/50%/jarvis"], "/x/50%%/jarvis"),
        (["/x/back\\slash"], '"/x/back\\\\\\\\slash"'),
    ],
)
def test_exec_line_quotes_per_the_desktop_entry_spec(argv: list[str], expected: str) -> None:
    """Spaces and reserved characters are double-quoted, `$` and `\\` escaped, `%` doubled."""
    assert exec_quote(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/bin/jarvis"],
        ["/home/My Name/.local/bin/jarvis", "run", "--headless"],
        ['/odd/"quoted"/`tick`/$HOME/back\\slash/50%/jarvis', ""],
        ["/tab\there/new\nline/jarvis"],
    ],
)
def test_exec_line_round_trips(argv: list[str]) -> None:
    """Whatever the path holds, the desktop runs exactly the argv that was written."""
    value = _parse(desktop_entry(argv))["Exec"]
    assert exec_unquote(value) == argv


def test_unterminated_quote_is_reported() -> None:
    """A hand-edited Exec line with an open quote is an error naming the line."""
    with pytest.raises(AutostartError, match="unterminated quote"):
        exec_unquote('"/usr/bin/jarvis')


def test_enable_status_disable_in_a_directory(tmp_path: Path) -> None:
    """enable writes jarvis.desktop, status reads it back as enabled, disable removes it."""
    writer = XdgAutostart(tmp_path / "autostart")
    assert not writer.status().enabled
    status = writer.enable(["/opt/jarvis/jarvis", "run", "--headless"])
    assert status.enabled
    assert status.command == ("/opt/jarvis/jarvis", "run", "--headless")
    assert (tmp_path / "autostart" / "jarvis.desktop").is_file()
    assert writer.disable() is True
    assert not (tmp_path / "autostart" / "jarvis.desktop").exists()
    assert writer.disable() is False
    assert not writer.status().enabled


def test_entry_hidden_by_the_user_counts_as_disabled(tmp_path: Path) -> None:
    """An entry the desktop's settings switched off (Hidden=true) is reported as disabled."""
    writer = XdgAutostart(tmp_path)
    writer.enable(["jarvis"])
    text = writer.path.read_text().replace("Hidden=false", "Hidden=true")
    writer.path.write_text(text)
    assert not writer.status().enabled


def test_disable_overrides_a_system_wide_entry(tmp_path: Path) -> None:
    """With a system entry in XDG_CONFIG_DIRS, disable writes a hidden user entry over it."""
    system = tmp_path / "etc" / "autostart"
    system.mkdir(parents=True)
    (system / "jarvis.desktop").write_text(desktop_entry(["/usr/bin/jarvis"]))
    writer = XdgAutostart(tmp_path / "user", [system])
    assert writer.status().enabled
    assert writer.status().location == str(system / "jarvis.desktop")
    assert writer.disable() is True
    assert not writer.status().enabled
    assert _parse(writer.path.read_text())["Hidden"] == "true"
    assert (system / "jarvis.desktop").is_file()


def test_not_a_desktop_entry_is_reported(tmp_path: Path) -> None:
    """A file without a [Desktop Entry] group gives an error naming the file."""
    writer = XdgAutostart(tmp_path)
    writer.path.write_text("[Other]\nExec=x\n")
    with pytest.raises(AutostartError, match=r"jarvis\.desktop is not a desktop entry"):
        writer.status()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HOME": "/h", "XDG_CONFIG_HOME": "/cfg"}, "/cfg/autostart/jarvis.desktop"),
        ({"HOME": "/h"}, "/h/.config/autostart/jarvis.desktop"),
        ({"HOME": "/h", "XDG_CONFIG_HOME": ""}, "/h/.config/autostart/jarvis.desktop"),
        ({"HOME": "/h", "XDG_CONFIG_HOME": "relative"}, "/h/.config/autostart/jarvis.desktop"),
    ],
)
def test_location_honours_xdg_config_home(environ: dict[str, str], expected: str) -> None:
    """The entry goes to $XDG_CONFIG_HOME/autostart, or ~/.config/autostart if unset or relative."""
    assert autostart_for_platform("linux", environ).location == expected
