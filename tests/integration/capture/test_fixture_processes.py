"""A test run that is killed leaves no compositor behind: the fixtures' programs die with it.

A fixture stops its compositor in its teardown, which a run killed with SIGKILL never reaches;
tests/support/processes.py starts the programs so that the kernel ends them with the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.wayland import wait_for

pytestmark = pytest.mark.wayland

ROOT = Path(__file__).parents[3]

CHILD = """
import time
from tests.support.wayland import start_sway
sway = start_sway()
client = sway.spawn_foot("notes", "notes")
print(sway.process.pid, client.process.pid, sway.runtime_dir.parent, flush=True)
time.sleep(3600)
"""


def running(pid: int) -> bool:
    """The process exists and is not a zombie (one nobody has reaped yet has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def naming(directory: Path) -> list[int]:
    """Processes whose environment names `directory` (the compositor's, its clients')."""
    marker = str(directory).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and running(int(proc.name)):
            with contextlib.suppress(OSError):
                if marker in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
    return found


def test_a_killed_run_leaves_no_sway_behind() -> None:
    """A Python process that started sway (as the fixture does, as uid 4242) and a client on it
    is killed with SIGKILL, so no teardown runs: sway and its client end all the same."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    assert len(line) == 3, f"the child did not start sway (exit {child.poll()})"
    sway, client, base = int(line[0]), int(line[1]), Path(line[2])
    try:
        assert running(sway)
        assert Path(f"/proc/{sway}/status").read_text().count("\t4242\t") >= 1  # the spare uid
        child.send_signal(signal.SIGKILL)
        child.wait()
        wait_for(lambda: not running(sway), "sway to end with the process that started it", 60)
        wait_for(lambda: not running(client), "its client to end with it", 60)
        wait_for(lambda: not naming(base), "nothing of that session to be left", 60)
    finally:
        for pid in (sway, client, *naming(base)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child.stdout.close()
        shutil.rmtree(base, ignore_errors=True)
