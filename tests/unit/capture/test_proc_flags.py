"""Process options from /proc: names only, whichever way the command line was written."""

from __future__ import annotations

from pathlib import Path

from jarvis_platform.proc_flags import process_flags


def _proc(tmp_path: Path, raw: bytes) -> Path:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cmdline").write_bytes(raw)
    return tmp_path


def test_option_names_are_read_without_their_values(tmp_path: Path) -> None:
    """Options come without values (a value may be a secret); positional arguments are left."""
    proc = _proc(tmp_path, b"chromium\0--incognito\0--token=s3cret\0https://bank/?k=v\0")
    assert process_flags(42, proc) == {"--incognito", "--token"}


def test_command_line_rewritten_into_one_string_is_read_too(tmp_path: Path) -> None:
    """Chromium rewrites its command line into one space-separated string."""
    proc = _proc(tmp_path, b"/usr/lib/chromium/chromium --no-sandbox --incognito file:///x\0")
    assert process_flags(42, proc) == {"--no-sandbox", "--incognito"}


def test_gone_process_has_no_options(tmp_path: Path) -> None:
    """A process that went away reads as no options (the caller decides what that means)."""
    assert process_flags(7, tmp_path) == frozenset()
