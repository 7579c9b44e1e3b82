"""Global-hotkey combinations in pynput's syntax (`<ctrl>+<alt>+p`): recording and checking.

Pure logic, no Qt widgets and no pynput (which needs a display to import): the Hotkey tab turns
key presses into a combination with `combination_from_keys` and checks it with `hotkey_problem`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from jarvis_ui.errors import UIError

MODIFIERS: Final = ("ctrl", "alt", "shift", "cmd")

# Named keys pynput understands, written `<name>` in a combination.
NAMED_KEYS: Final = frozenset(
    [f"f{n}" for n in range(1, 21)]
    + [
        "space", "tab", "enter", "esc", "backspace", "delete", "insert", "home", "end",
        "page_up", "page_down", "up", "down", "left", "right", "pause", "print_screen",
        "scroll_lock", "menu",
    ]
)  # fmt: skip

# Combinations the desktop or everyday applications already use: binding one of them globally
# would either never fire or steal it from every application.
RESERVED: Final = {
    frozenset(combo.split("+")): why
    for combo, why in {
        "ctrl+c": "copy",
        "ctrl+v": "paste",
        "ctrl+x": "cut",
        "ctrl+z": "undo",
        "ctrl+y": "redo",
        "ctrl+a": "select all",
        "ctrl+s": "save",
        "ctrl+f": "find",
        "ctrl+n": "new window",
        "ctrl+o": "open",
        "ctrl+p": "print",
        "ctrl+q": "quit",
        "ctrl+t": "new tab",
        "ctrl+w": "close tab",
        "alt+tab": "window switching",
        "alt+f4": "close window",
        "alt+f2": "the run dialog",
        "ctrl+alt+delete": "log out / task manager",
        "ctrl+alt+backspace": "killing the X server",
        "ctrl+alt+t": "opening a terminal",
        "ctrl+alt+l": "locking the screen",
        "ctrl+alt+left": "switching workspace",
        "ctrl+alt+right": "switching workspace",
        "ctrl+alt+up": "switching workspace",
        "ctrl+alt+down": "switching workspace",
        "ctrl+shift+esc": "the task manager",
        "cmd+l": "locking the screen",
        "cmd+d": "showing the desktop",
        "cmd+tab": "window switching",
        "cmd+space": "switching input language",
    }.items()
}

DEFAULT_HOTKEY: Final = "<ctrl>+<alt>+p"


class HotkeyError(UIError, ValueError):
    """A combination that cannot be the pause hotkey; the message says why and what to do."""


def _key_name(part: str) -> str:
    if part.startswith("<") and part.endswith(">") and len(part) > 2:
        return part[1:-1].lower()
    return part.lower()


def parse_hotkey(spec: str) -> tuple[frozenset[str], str]:
    """Split `spec` into its modifiers and its one main key; HotkeyError if it is not valid."""
    text = spec.strip()
    if not text:
        raise HotkeyError("The hotkey is empty: press a combination such as Ctrl+Alt+P.")
    parts = text.split("+")
    if any(not p for p in parts):
        raise HotkeyError(f"{spec!r} is not a combination: write it like <ctrl>+<alt>+p.")
    modifiers: set[str] = set()
    keys: list[str] = []
    for part in parts:
        name = _key_name(part)
        if name in MODIFIERS and part.startswith("<"):
            if name in modifiers:
                raise HotkeyError(f"{spec!r} names <{name}> twice.")
            modifiers.add(name)
        elif (len(part) == 1 and part.isprintable() and not part.isspace()) or (
            part.startswith("<") and name in NAMED_KEYS
        ):
            keys.append(name)
        else:
            raise HotkeyError(
                f"{part!r} in {spec!r} is not a key: use one letter or digit, a named key such "
                f"as <f9> or <space>, and modifiers <ctrl>, <alt>, <shift>, <cmd>."
            )
    if len(keys) != 1:
        raise HotkeyError(
            f"{spec!r} must have exactly one key besides the modifiers (it has {len(keys)})."
        )
    return frozenset(modifiers), keys[0]


def format_hotkey(modifiers: Iterable[str], key: str) -> str:
    """The combination in pynput's syntax, modifiers in a fixed order: `<ctrl>+<alt>+p`."""
    mods = set(modifiers)
    parts = [f"<{m}>" for m in MODIFIERS if m in mods]
    parts.append(f"<{key}>" if key in NAMED_KEYS else key)
    return "+".join(parts)


def display_hotkey(spec: str) -> str:
    """A combination as people read it: `Ctrl+Alt+P`."""
    modifiers, key = parse_hotkey(spec)
    names = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Super"}
    parts = [names[m] for m in MODIFIERS if m in modifiers]
    parts.append(key.replace("_", " ").title() if key in NAMED_KEYS else key.upper())
    return "+".join(parts)


def hotkey_problem(spec: str) -> str | None:
    """Why `spec` cannot be the pause hotkey, or None when it is fine."""
    try:
        modifiers, key = parse_hotkey(spec)
    except HotkeyError as exc:
        return str(exc)
    if not modifiers & {"ctrl", "alt", "cmd"}:
        return (
            f"{display_hotkey(spec)} would fire while you type: add Ctrl, Alt or Super "
            "to the combination."
        )
    why = RESERVED.get(frozenset({*modifiers, key}))
    if why is not None:
        return (
            f"{display_hotkey(spec)} is already used for {why}: choose another combination, "
            "for example Ctrl+Alt+P."
        )
    return None


def normalize_hotkey(spec: str) -> str:
    """`spec` in the canonical order; raise HotkeyError if it cannot be the pause hotkey."""
    problem = hotkey_problem(spec)
    if problem is not None:
        raise HotkeyError(problem)
    modifiers, key = parse_hotkey(spec)
    return format_hotkey(modifiers, key)
