"""Private-window facts on a Wayland backend's window list: each piece keeps its own place."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from jarvis_platform import Rect, WindowInfo
from jarvis_platform.private_facts import PrivateFacts


def test_window_on_two_outputs_keeps_both_pieces_and_each_gets_the_facts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """KWin lists a window across two outputs as two pieces with one id: both keep their own
    rectangle (the black-out must cover both) and both carry the process's options."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")  # no a11y bus
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--incognito"])
    try:
        cmdline = Path(f"/proc/{child.pid}/cmdline")
        deadline = time.monotonic() + 60  # a loaded machine may not have run exec() yet
        while b"--incognito" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        pieces = [
            WindowInfo(id=7, app_name="Chromium", title="Bank", rect=rect, pid=child.pid)
            for rect in (Rect(0, 0, 100, 50), Rect(100, 0, 40, 50))
        ]
        facts = PrivateFacts(by_place=False)
        try:
            found = facts.add_kept(pieces, time.monotonic())
        finally:
            facts.close()
        assert [w.rect for w in found] == [Rect(0, 0, 100, 50), Rect(100, 0, 40, 50)]
        assert all("--incognito" in w.process_flags for w in found)
    finally:
        child.kill()
        child.wait()
