"""The long-lived programs the test fixtures run (compositors, D-Bus daemons, pipewire, the
portal, browsers): started so that they die with the test process, and stopped politely.

A fixture stops its programs only when the test run ends normally; a run killed with SIGKILL (a
CI timeout, a stuck run ended by hand) never runs the teardown, and its compositors and buses
would stay behind on the machine. So each program is started with PR_SET_PDEATHSIG: the kernel
sends it SIGKILL when the thread that started it ends, whatever ended it. The signal is set in
the child after its uid change (a credential change clears it) and after checking the parent is
still there. Programs that those programs start (what a bus activates, Xwayland) are not ours:
they end when their bus or compositor goes.

Start these programs from the thread that lives as long as they should (fixtures run in the
main thread).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

__all__ = ["start_process", "stop_process", "stop_processes"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_libc = ctypes.CDLL(None, use_errno=True)  # loaded now: between fork and exec, load nothing

_Stream = int | IO[bytes] | None


def _die_with(parent: int) -> None:
    """In the child, before exec: SIGKILL when the parent's thread ends; at once if it has."""
    if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(127)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(127)


def start_process(
    command: Sequence[str | Path],
    *,
    uid: int | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: _Stream = subprocess.DEVNULL,
    stdout: _Stream = subprocess.DEVNULL,
    stderr: _Stream = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Run `command` (as `uid`, with that gid and no supplementary groups, when given) so that it
    is killed when the calling thread ends."""
    parent = os.getpid()
    return subprocess.Popen(
        list(command),
        env=env,
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        user=uid,
        group=uid,
        extra_groups=None if uid is None else [],
        preexec_fn=lambda: _die_with(parent),  # Python runs it after the uid change
    )


def stop_process(
    process: subprocess.Popen[bytes], *, timeout: float = 15.0, sig: int = signal.SIGTERM
) -> None:
    """Send `sig` (SIGTERM) to a running process, SIGKILL it if it has not ended within
    `timeout` seconds, and reap it."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_processes(
    processes: Iterable[subprocess.Popen[bytes]],
    *,
    timeout: float = 15.0,
    sig: int = signal.SIGTERM,
) -> None:
    """`stop_process` each, last started first (a bus outlives what uses it)."""
    for process in reversed(list(processes)):
        stop_process(process, timeout=timeout, sig=sig)
