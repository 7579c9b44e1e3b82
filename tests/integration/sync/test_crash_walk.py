"""Kill -9 at every step of enqueue, send and ack: accepted captures arrive exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from jarvis_sync import outbox_key, store_token
from tests.support.keyring import SecretService
from tests.support.server import LiveServer

from .crash_child import STEPS

pytestmark = pytest.mark.keyring

ROOT = Path(__file__).resolve().parents[3]
PER_RUN = 6
OCCURRENCE = 3  # the kill lands on the third time a step is reached, so some work precedes it


def run_child(directory: Path, url: str, *crash: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.sync.crash_child",
            str(directory),
            url,
            str(PER_RUN),
            *crash,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, [*done.stdout.splitlines(), f"stderr: {done.stderr}"]


def test_sigkill_at_every_step_loses_and_duplicates_nothing(
    secret_service: SecretService, sync_server: LiveServer, device: str, tmp_path: Path
) -> None:
    """After SIGKILL at each step and a restart, the server has every accepted capture once,
    with the right sha256, and the outbox has no orphan or partial file and a sound database."""
    for entry in ("device-token", "outbox-key"):
        if keyring.get_password("jarvis", entry) is not None:
            keyring.delete_password("jarvis", entry)
    store_token(sync_server.create_token(device))
    outbox_key()
    directory = tmp_path / "outbox"
    accepted: dict[str, str] = {}
    tried: set[str] = set()

    def record(lines: list[str]) -> int:
        """Note what the child tried and had accepted; how many it had accepted."""
        count = 0
        for line in lines:
            words = line.split()
            if words[:1] == ["accepted"]:
                accepted[words[1]] = words[2]
                count += 1
            elif words[:1] == ["trying"]:
                tried.add(words[1])
        return count

    for step in STEPS:
        code, lines = run_child(directory, sync_server.url, step, str(OCCURRENCE))
        this_run = record(lines)
        assert code == -signal.SIGKILL, (
            f"the kill at {step} never landed: {lines[-5:]}\nserver "
            f"{'running' if sync_server.running else 'GONE'}"
            f" (exit code {sync_server.process and sync_server.process.poll()}):"
            f" {sync_server.log_tail()}"
        )
        if step.startswith("enqueue."):
            # Killed inside its third put: the two before it were accepted. (How many a run
            # killed while sending accepted first depends on timing: retries of captures left
            # by earlier runs count towards the step's occurrences too.)
            assert this_run == OCCURRENCE - 1, lines[-5:]
    code, lines = run_child(directory, sync_server.url)
    assert record(lines) == PER_RUN, lines[-5:]
    assert code == 0, lines[-5:]
    assert "drained" in lines

    records = [r for r in sync_server.captures() if r.device == device]
    stored = {str(r.id): r.sha256 for r in records}
    assert len(stored) == len(records)  # exactly once
    for capture_id, sha in accepted.items():
        assert stored.get(capture_id) == sha, f"accepted capture {capture_id} missing or altered"
    assert set(stored) <= tried  # nothing the agent never made

    assert sorted(os.listdir(directory / "blobs")) == []
    assert sorted(os.listdir(directory / "tmp")) == []
    db = sqlite3.connect(directory / "outbox.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM captures").fetchone() == (0,)
    finally:
        db.close()
