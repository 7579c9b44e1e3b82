"""One agent per user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jarvis_agent.runtime.instance_lock import AgentLock, AlreadyRunningError


def test_second_holder_is_told_the_pid(tmp_path: Path) -> None:
    """While one process holds the lock, another is refused with the holder's pid."""
    path = tmp_path / "agent.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from jarvis_agent.runtime.instance_lock import AgentLock;"
            f"lock = AgentLock(Path({str(path)!r})); lock.acquire(); print('held', flush=True);"
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunningError) as caught:
            AgentLock(path).acquire()
        assert caught.value.pid == holder.pid
        assert f"already running with pid {holder.pid}" in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    # The dead holder's lock is gone with it: a new agent starts.
    with AgentLock(path) as lock:
        assert lock.held
        assert path.read_text().strip() == str(os.getpid())
