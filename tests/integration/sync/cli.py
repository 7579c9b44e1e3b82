"""Run the real `jarvis` command line as a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

JARVIS = Path(sys.executable).with_name("jarvis")


def jarvis(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`jarvis ARGS` with `stdin` piped in; the environment is this test's (JARVIS_HOME, D-Bus)."""
    return subprocess.run(
        [str(JARVIS), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
