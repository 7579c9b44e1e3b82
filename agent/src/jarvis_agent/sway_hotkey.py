"""The pause hotkey as a sway binding: pynput's `<ctrl>+<alt>+p` written as sway's `Ctrl+Alt+p`.

pynput sees no keys on Wayland, so under sway the hotkey is a `bindsym` that runs
`jarvis pause --toggle`. sway names keys by their xkb keysym and the modifiers Ctrl, Alt, Shift
and Mod4 (the Super key).
"""

from __future__ import annotations

import shlex
from typing import Final

from jarvis_agent.errors import AgentError

__all__ = ["SwayHotkeyError", "sway_binding", "sway_combo"]

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
