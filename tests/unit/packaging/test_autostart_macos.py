"""The macOS LaunchAgent: the plist launchd reads at login."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from jarvis_agent.autostart import (
    AutostartError,
    LaunchAgentAutostart,
    autostart_for_platform,
)


def test_written_plist_starts_the_app_at_login(tmp_path: Path) -> None:
    """The plist parses back with the label, the exact argv, RunAtLoad and the GUI session."""
    writer = LaunchAgentAutostart(tmp_path)
    app = "/Applications/Jarvis.app/Contents/MacOS/jarvis"
    writer.enable([app])
    with (tmp_path / "org.jarvis.Jarvis.plist").open("rb") as fh:
        agent = plistlib.load(fh)
    assert agent["Label"] == "org.jarvis.Jarvis"
    assert agent["ProgramArguments"] == [app]
    assert agent["RunAtLoad"] is True
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert "KeepAlive" not in agent  # quitting the tray app must stick


def test_headless_agent_is_restarted_after_a_crash(tmp_path: Path) -> None:
    """For `run --headless` launchd restarts the agent after a non-zero exit, not after a quit."""
    writer = LaunchAgentAutostart(tmp_path)
    writer.enable(["/opt/My Apps/jarvis", "run", "--headless"])
    agent = plistlib.loads(writer.path.read_bytes())
    assert agent["ProgramArguments"] == ["/opt/My Apps/jarvis", "run", "--headless"]
    assert agent["KeepAlive"] == {"SuccessfulExit": False}


def test_plist_is_xml_with_a_doctype(tmp_path: Path) -> None:
    """The file is an XML property list (what launchd and `plutil -lint` expect)."""
    writer = LaunchAgentAutostart(tmp_path)
    writer.enable(["/x/jarvis"])
    text = writer.path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<!DOCTYPE plist" in text


def test_enable_status_disable(tmp_path: Path) -> None:
    """status reports enabled with the command after enable, and disabled after disable."""
    writer = LaunchAgentAutostart(tmp_path)
    assert not writer.status().enabled
    assert writer.enable(["/x/jarvis"]).command == ("/x/jarvis",)
    assert writer.status().enabled
    assert writer.disable() is True
    assert not writer.path.exists()
    assert not writer.status().enabled


def test_agent_disabled_in_its_plist_counts_as_disabled(tmp_path: Path) -> None:
    """A plist with Disabled=true (as launchctl leaves it) is reported as disabled."""
    writer = LaunchAgentAutostart(tmp_path)
    writer.enable(["/x/jarvis"])
    agent = plistlib.loads(writer.path.read_bytes())
    agent["Disabled"] = True
    writer.path.write_bytes(plistlib.dumps(agent))
    assert not writer.status().enabled


def test_corrupt_plist_is_reported(tmp_path: Path) -> None:
    """A plist that does not parse gives an error naming the file."""
    writer = LaunchAgentAutostart(tmp_path)
    writer.path.write_text("not a plist")
    with pytest.raises(AutostartError, match=r"org\.jarvis\.Jarvis\.plist"):
        writer.status()


def test_location_is_in_the_users_launch_agents() -> None:
    """On macOS the plist goes to ~/Library/LaunchAgents."""
    writer = autostart_for_platform("darwin", {"HOME": "/Users/ann"})
    assert writer.location == "/Users/ann/Library/LaunchAgents/org.jarvis.Jarvis.plist"
