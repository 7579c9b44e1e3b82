"""The pause hotkey as a sway binding: pynput's `<ctrl>+<alt>+p` written as sway's `Ctrl+Alt+p`.

pynput sees no keys on Wayland, so under sway the hotkey is a `bindsym` that runs
`jarvis pause --toggle`. sway names keys by their xkb keysym and the modifiers Ctrl, Alt, Shift
and Mod4 (the Super key).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jarvis_agent.errors import AgentError

__all__ = [
    "SwayBindingState",
    "SwayHotkeyError",
    "find_sway_binding",
    "remember_applied_binding",
    "sway_binding",
    "sway_binding_state",
    "sway_combo",
]

_MODIFIERS: Final = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Mod4"}

# pynput's named keys and their xkb keysyms.
_NAMED: Final = {
    **{f"f{n}": f"F{n}" for n in range(1, 21)},
    "space": "space", "tab": "Tab", "enter": "Return", "esc": "Escape",
    "backspace": "BackSpace", "delete": "Delete", "insert": "Insert", "home": "Home",
    "end": "End", "page_up": "Prior", "page_down": "Next", "up": "Up", "down": "Down",
    "left": "Left", "right": "Right", "pause": "Pause", "print_screen": "Print",
    "scroll_lock": "Scroll_Lock", "menu": "Menu",
}  # fmt: skip

# Printable characters whose keysym is a name, not the character itself.
_PUNCTUATION: Final = {
    ",": "comma", ".": "period", "/": "slash", ";": "semicolon", "'": "apostrophe",
    "[": "bracketleft", "]": "bracketright", "\\": "backslash", "-": "minus", "=": "equal",
    "`": "grave",
}  # fmt: skip


class SwayHotkeyError(AgentError, ValueError):
    """The configured hotkey has no sway equivalent; the message says what to do."""


def sway_combo(spec: str) -> str:
    """`<ctrl>+<alt>+p` as sway writes it: `Ctrl+Alt+p` (modifiers in a fixed order)."""
    modifiers: list[str] = []
    keys: list[str] = []
    for part in spec.strip().lower().split("+"):
        name = part[1:-1] if part.startswith("<") and part.endswith(">") else part
        if part.startswith("<") and name in _MODIFIERS:
            modifiers.append(name)
        elif part.startswith("<") and name in _NAMED:
            keys.append(_NAMED[name])
        elif len(part) == 1 and (part.isalnum() and part.isascii()):
            keys.append(part)
        elif len(part) == 1 and part in _PUNCTUATION:
            keys.append(_PUNCTUATION[part])
        else:
            raise SwayHotkeyError(
                f"{part!r} in the hotkey {spec!r} has no sway key name: choose a letter, digit "
                "or named key (ui.pause_hotkey), or write the bindsym line by hand"
            )
    if len(keys) != 1 or not modifiers:
        raise SwayHotkeyError(
            f"the hotkey {spec!r} needs modifiers and exactly one key, such as <ctrl>+<alt>+p"
        )
    ordered = [_MODIFIERS[m] for m in _MODIFIERS if m in modifiers]
    return "+".join([*ordered, keys[0]])


def sway_binding(spec: str, jarvis: str) -> str:
    """The sway config line: `bindsym Ctrl+Alt+p exec jarvis pause --toggle`."""
    return f"bindsym {sway_combo(spec)} exec {shlex.quote(jarvis)} pause --toggle"


def _combo_key(combo: str) -> tuple[frozenset[str], str]:
    """A sway combination compared as sway does: modifiers in any order, names in any case
    (Control and Mod1 are sway's other names for Ctrl and Alt)."""
    aliases = {"control": "ctrl", "mod1": "alt", "super": "mod4"}
    parts = [aliases.get(p.lower(), p.lower()) for p in combo.split("+")]
    return frozenset(parts[:-1]), parts[-1]


def find_sway_binding(config_text: str, spec: str) -> str | None:
    """The `bindsym` line of a sway config that binds `spec` to `... pause --toggle`, if any."""
    wanted = _combo_key(sway_combo(spec))
    for raw in config_text.splitlines():
        words = raw.strip().split()
        if len(words) < 3 or words[0] != "bindsym":
            continue
        rest = words[1:]
        while rest and rest[0].startswith("--"):  # bindsym's own flags (--to-code, --release)
            rest = rest[1:]
        if (
            len(rest) >= 2
            and _combo_key(rest[0]) == wanted
            and rest[1] == "exec"
            and re.search(r"\bpause\s+--toggle\b", " ".join(rest[2:]))
        ):
            return raw.strip()
    return None


@dataclass(frozen=True, slots=True)
class SwayBindingState:
    """Where the pause binding was found: "config" (sway's loaded config), "applied" (added to
    this running sway by `jarvis hotkey sway --apply`), or None (not set up)."""

    combo: str
    source: str | None


def remember_applied_binding(record: Path, swaysock: str, line: str) -> None:
    """Note that `line` was added to the sway behind `swaysock` (it lasts until sway reloads)."""
    record.write_text(json.dumps({"swaysock": swaysock, "line": line}))


def sway_binding_state(
    spec: str, config_text: str, swaysock: str, record: Path
) -> SwayBindingState:
    """Is the pause hotkey bound in this sway? Its loaded config first, then the binding
    `--apply` added to this very sway (same socket). Raises SwayHotkeyError for a combination
    sway cannot name."""
    combo = sway_combo(spec)
    if find_sway_binding(config_text, spec) is not None:
        return SwayBindingState(combo, "config")
    try:
        applied = json.loads(record.read_text())
    except (OSError, ValueError):
        applied = None
    if (
        isinstance(applied, dict)
        and applied.get("swaysock") == swaysock
        and find_sway_binding(str(applied.get("line", "")), spec) is not None
    ):
        return SwayBindingState(combo, "applied")
    return SwayBindingState(combo, None)
