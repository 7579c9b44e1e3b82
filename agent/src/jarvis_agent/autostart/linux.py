"""Linux (and other XDG desktops): an autostart entry in $XDG_CONFIG_HOME/autostart.

The file follows the Desktop Entry and Desktop Application Autostart specifications: the desktop
starts its Exec line at login unless `Hidden=true` (or GNOME's `X-GNOME-Autostart-enabled=false`).
An entry of the same name in a system directory ($XDG_CONFIG_DIRS/autostart) is overridden by the
user's: disabling then writes a `Hidden=true` entry instead of deleting.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping, Sequence
from pathlib import Path

from jarvis_agent.autostart._base import AutostartError, AutostartStatus
from jarvis_agent.autostart._files import remove, write_atomically

ENTRY_NAME = "jarvis.desktop"
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = frozenset('"`$\\')
_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def _escape_string(value: str) -> str:
    """The Desktop Entry `string` escaping, applied after the Exec quoting."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def _unescape_string(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_STRING_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def _quote_arg(arg: str) -> str:
    if not arg:
        return '""'
    arg = arg.replace("%", "%%")
    if not any(ch in _RESERVED for ch in arg):
        return arg
    inner = "".join("\\" + ch if ch in _ESCAPED_IN_QUOTES else ch for ch in arg)
    return f'"{inner}"'


def exec_quote(argv: Sequence[str]) -> str:
    """The value of an `Exec=` key that runs `argv` exactly (quoted and escaped per the spec)."""
    if not argv:
        raise AutostartError("the command to start at login is empty")
    return _escape_string(" ".join(_quote_arg(arg) for arg in argv))


def exec_unquote(value: str) -> list[str]:
    """The argv an `Exec=` value runs: the inverse of `exec_quote` (field codes are kept as is)."""
    text = _unescape_string(value)
    args: list[str] = []
    current: list[str] = []
    in_arg = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            in_arg = True
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                current.append(text[i])
                i += 1
            if i >= len(text):
                raise AutostartError(f"unterminated quote in Exec line: {value!r}")
        elif ch in " \t":
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        else:
            in_arg = True
            current.append(ch)
        i += 1
    if in_arg:
        args.append("".join(current))
    return [arg.replace("%%", "%") for arg in args]


def desktop_entry(
    argv: Sequence[str],
    *,
    enabled: bool = True,
    name: str = "Jarvis",
    comment: str = "Privacy-first desktop capture agent",
    icon: str = "jarvis",
) -> str:
    """The text of an autostart entry that runs `argv` at login (or, disabled, hides it)."""
    flag = "true" if enabled else "false"
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        f"Name={_escape_string(name)}",
        f"Comment={_escape_string(comment)}",
        f"Exec={exec_quote(argv)}",
        f"Icon={icon}",
        "Terminal=false",
        "Categories=Utility;",
        f"Hidden={'false' if enabled else 'true'}",
        f"X-GNOME-Autostart-enabled={flag}",
        "X-GNOME-Autostart-Delay=5",
        "X-KDE-autostart-after=panel",
    ]
    return "\n".join(lines) + "\n"


def _read_entry(path: Path) -> configparser.SectionProxy | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        with path.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise AutostartError(f"cannot read the autostart entry {path}: {exc}") from exc
    if not parser.has_section("Desktop Entry"):
        raise AutostartError(f"{path} is not a desktop entry (no [Desktop Entry] group)")
    return parser["Desktop Entry"]


class XdgAutostart:
    """The XDG autostart entry `jarvis.desktop` in one directory."""

    def __init__(self, directory: Path, system_directories: Sequence[Path] = ()) -> None:
        self._directory = directory
        self._system_directories = tuple(system_directories)

    @staticmethod
    def directory_for(environ: Mapping[str, str], home: Path) -> Path:
        """$XDG_CONFIG_HOME/autostart, or ~/.config/autostart when it is unset or relative."""
        config_home = environ.get("XDG_CONFIG_HOME", "").strip()
        base = Path(config_home) if config_home and Path(config_home).is_absolute() else None
        return (base or home / ".config") / "autostart"

    @property
    def path(self) -> Path:
        return self._directory / ENTRY_NAME

    @property
    def location(self) -> str:
        return str(self.path)

    def enable(self, command: Sequence[str]) -> AutostartStatus:
        write_atomically(self.path, desktop_entry(command).encode("utf-8"))
        return self.status()

    def disable(self) -> bool:
        system_entry = self._system_entry()
        if system_entry is None:
            return remove(self.path)
        # The user's entry overrides the system one: keep it, hidden.
        entry = _read_entry(system_entry)
        existed = self.status().enabled
        argv = exec_unquote(entry.get("Exec", "")) if entry is not None else ["jarvis"]
        write_atomically(self.path, desktop_entry(argv or ["jarvis"], enabled=False).encode())
        return existed

    def status(self) -> AutostartStatus:
        path = self.path
        entry = _read_entry(path)
        if entry is None:
            path = self._system_entry() or path
            entry = _read_entry(path) if path != self.path else None
        if entry is None:
            return AutostartStatus(enabled=False, location=str(self.path))
        argv = tuple(exec_unquote(entry.get("Exec", "")))
        enabled = (
            bool(argv)
            and entry.get("Hidden", "false").strip().lower() != "true"
            and entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() != "false"
        )
        return AutostartStatus(enabled=enabled, location=str(path), command=argv or None)

    def _system_entry(self) -> Path | None:
        for directory in self._system_directories:
            candidate = directory / ENTRY_NAME
            if candidate.is_file():
                return candidate
        return None
