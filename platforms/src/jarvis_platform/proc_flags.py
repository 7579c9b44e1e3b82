"""The command-line options a process was started with (Linux /proc), names only.

A browser started with `--incognito` opens only private windows, and its windows say so nowhere
else on X11. Only option names are kept ("--user-data-dir", never its value): values and
positional arguments can hold secrets (URLs with tokens, passwords) and are never read out.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["process_flags"]


def process_flags(pid: int, proc: Path = Path("/proc")) -> frozenset[str]:
    """Option names in the process's command line; empty when it cannot be read (gone, no /proc)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return frozenset()
    # Chromium rewrites its command line into one space-separated string (as setproctitle
    # does): split on spaces too. A space inside an argument can only add a flag too many.
    flags = set()
    for arg in raw.replace(b"\0", b" ").split()[1:]:
        if arg == b"--":
            break
        if arg.startswith(b"-") and len(arg) > 1:
            flags.add(arg.split(b"=", 1)[0].decode("utf-8", errors="replace"))
    return frozenset(flags)
